// Package query runs searches over the Parquet log archive: it prunes files
// by partition path, row groups by column statistics and trace-id bloom
// filters, reads only the columns a filter needs, and materializes the few
// rows it returns.
package query

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Filter selects log records. Zero fields do not filter.
type Filter struct {
	// From and To bound the record time to [From, To).
	From, To time.Time
	// Service keeps records of one service.name when HasService is set
	// ("" then means records without a service).
	Service    string
	HasService bool
	// MinSeverity keeps records with severity_number >= MinSeverity.
	MinSeverity int32
	// TraceID keeps records of one trace when HasTraceID is set.
	TraceID    [16]byte
	HasTraceID bool
	// Keyword keeps records whose body contains it, ignoring case.
	Keyword string
	// Attributes keeps records having every key with exactly that value
	// (record attributes first, then resource attributes).
	Attributes []AttributeMatch
}

// AttributeMatch is one attribute equality condition.
type AttributeMatch struct {
	Key   string
	Value string
}

// keywordMatcher finds a keyword in text ignoring case, under Unicode
// simple case folding (as strings.EqualFold: K, k and the Kelvin sign K are
// equal). ASCII keywords (the common case) are matched byte by byte without
// decoding; others, and ASCII keywords whose letters have non-ASCII fold
// partners when the text may hold one, are matched rune by rune.
type keywordMatcher struct {
	keyword string
	runes   int  // runes in keyword: each matches at least one byte of text
	ascii   bool // keyword is ASCII: the byte-wise path applies
	needle  []byte
	// partners are the non-ASCII fold partners of an ASCII keyword's
	// letters (ſ for s, K for k): only text holding one needs the
	// rune-wise path after a byte-wise miss.
	partners []string
	// firstLeads marks the bytes a match can start with (any fold of the
	// keyword's first rune); all set when that rune is invalid UTF-8.
	firstLeads [256]bool
}

func newKeywordMatcher(k string) *keywordMatcher {
	if k == "" {
		return nil
	}
	m := &keywordMatcher{keyword: k, runes: utf8.RuneCountInString(k), ascii: true}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			m.ascii = false
			break
		}
	}
	var buf [utf8.UTFMax]byte
	if m.ascii {
		m.needle = make([]byte, len(k))
		for i := 0; i < len(k); i++ {
			m.needle[i] = lowerASCII(k[i])
			for f := unicode.SimpleFold(rune(k[i])); f != rune(k[i]); f = unicode.SimpleFold(f) {
				if f >= utf8.RuneSelf && !slices.Contains(m.partners, string(f)) {
					m.partners = append(m.partners, string(f))
				}
			}
		}
	}
	first, _ := utf8.DecodeRuneInString(k)
	if first == utf8.RuneError {
		for i := range m.firstLeads {
			m.firstLeads[i] = true
		}
	} else {
		f := first
		for {
			utf8.EncodeRune(buf[:], f)
			m.firstLeads[buf[0]] = true
			if f = unicode.SimpleFold(f); f == first {
				break
			}
		}
	}
	return m
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// match reports whether s contains the keyword.
func (m *keywordMatcher) match(s string) bool {
	if !m.ascii {
		return m.runes <= len(s) && m.matchFold(s)
	}
	// The byte-wise scan stays inline: it is the per-row hot path.
	n := m.needle
	if len(n) > len(s) {
		return false
	}
	first := n[0]
	upperFirst := first
	if 'a' <= first && first <= 'z' {
		upperFirst = first - ('a' - 'A')
	}
	last := len(s) - len(n)
	for i := 0; i <= last; i++ {
		c := s[i]
		if c != first && c != upperFirst {
			continue
		}
		j := 1
		for ; j < len(n); j++ {
			if lowerASCII(s[i+j]) != n[j] {
				break
			}
		}
		if j == len(n) {
			return true
		}
	}
	return m.partners != nil && m.matchPartners(s)
}

// matchPartners retries a byte-wise miss rune by rune when s holds a
// non-ASCII fold partner of one of the keyword's letters.
func (m *keywordMatcher) matchPartners(s string) bool {
	for _, p := range m.partners {
		if strings.Contains(s, p) {
			return m.matchFold(s)
		}
	}
	return false
}

// matchFold compares the keyword rune by rune at every rune start of s
// whose first byte can begin a match. Byte lengths may differ between the
// two sides (Ⱥ is 2 bytes, ⱥ 3), so no length is assumed.
func (m *keywordMatcher) matchFold(s string) bool {
	for i := 0; len(s)-i >= m.runes; i++ {
		if !m.firstLeads[s[i]] {
			continue
		}
		if hasFoldPrefix(s[i:], m.keyword) {
			return true
		}
	}
	return false
}

// hasFoldPrefix reports whether s starts with a string equal to k under
// simple case folding.
func hasFoldPrefix(s, k string) bool {
	for k != "" {
		if s == "" {
			return false
		}
		kr, kn := utf8.DecodeRuneInString(k)
		sr, sn := utf8.DecodeRuneInString(s)
		if kr != sr && !equalFoldRune(kr, sr) {
			return false
		}
		k, s = k[kn:], s[sn:]
	}
	return true
}

// equalFoldRune reports whether a and b are in the same simple fold orbit
// (the per-rune test of strings.EqualFold).
func equalFoldRune(a, b rune) bool {
	if a > b {
		a, b = b, a
	}
	// SimpleFold returns the next larger rune of the orbit, wrapping.
	r := unicode.SimpleFold(a)
	for r != a && r < b {
		r = unicode.SimpleFold(r)
	}
	return r == b
}
