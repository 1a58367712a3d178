// Package query runs searches over the Parquet log archive: it prunes files
// by partition path, row groups by column statistics and trace-id bloom
// filters, reads only the columns a filter needs, and materializes the few
// rows it returns.
package query

import (
	"bytes"
	"time"
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

// keywordMatcher finds a keyword in text ignoring case. ASCII keywords (the
// common case) are matched without allocating; others fold both sides.
type keywordMatcher struct {
	needle []byte // lower-cased
	ascii  bool
}

func newKeywordMatcher(k string) *keywordMatcher {
	if k == "" {
		return nil
	}
	m := &keywordMatcher{needle: bytes.ToLower([]byte(k)), ascii: true}
	for _, c := range m.needle {
		if c >= utf8.RuneSelf {
			m.ascii = false
			break
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
	n := m.needle
	if len(n) > len(s) {
		return false
	}
	if !m.ascii {
		return bytes.Contains(bytes.ToLower([]byte(s)), n)
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
	return false
}
