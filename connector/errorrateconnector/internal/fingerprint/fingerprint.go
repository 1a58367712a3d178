// Package fingerprint reduces error messages to templates: the variable parts
// of a message (numbers, ids, hex strings, quoted values, paths, URLs, IP
// addresses) are replaced by placeholders so that messages produced by the same
// line of code collapse into one template.
//
//	`user 4211 not found in "accounts" (took 35ms)` → `user <num> not found in <str> (took <num>ms)`
//
// The scanner is a single pass over the bytes with no regular expressions and
// no allocation once its output buffer has grown (see BenchmarkTemplate).
package fingerprint // import "github.com/sluicelogs/sluice/connector/errorrateconnector/internal/fingerprint"

import (
	"strings"
	"unicode/utf8"
)

// Placeholders written in place of variable parts.
const (
	PlaceholderNumber = "<num>"
	PlaceholderHex    = "<hex>"
	PlaceholderID     = "<id>"
	PlaceholderString = "<str>"
	PlaceholderPath   = "<path>"
	PlaceholderURL    = "<url>"
	PlaceholderIP     = "<ip>"
)

const (
	// minHexLen is the shortest run of hex digits taken for a hash or id
	// rather than a word ("deadbeef" yes, "cafe" no).
	minHexLen = 8
	// minMixedIDLen is the shortest letters+digits segment taken for an id
	// ("req8f3k2z9" yes, "utf8" and "http2" no).
	minMixedIDLen = 8
	// maxUnitLen is the longest letter suffix kept after a number (ms, KiB).
	maxUnitLen = 3
)

// Templater turns messages into templates. It owns a reusable buffer, so a
// Templater must not be used from several goroutines at once.
type Templater struct {
	maxLen int
	buf    []byte
}

// NewTemplater returns a Templater whose templates are at most maxLen bytes
// (cut on a UTF-8 boundary); maxLen <= 0 means unbounded.
func NewTemplater(maxLen int) *Templater {
	return &Templater{maxLen: maxLen, buf: make([]byte, 0, 256)}
}

// Template returns the template of msg. The returned slice is owned by the
// Templater and valid until the next call.
func (t *Templater) Template(msg string) []byte {
	t.buf = appendTemplate(t.buf[:0], msg)
	if t.maxLen > 0 && len(t.buf) > t.maxLen {
		cut := t.maxLen
		for cut > 0 && !utf8.RuneStart(t.buf[cut]) {
			cut--
		}
		t.buf = t.buf[:cut]
	}
	return t.buf
}

// Template is a convenience for tests and one-off use: it allocates.
func Template(msg string) string {
	return string(appendTemplate(nil, msg))
}

// appendTemplate appends the template of msg to dst. Runs of whitespace are
// collapsed to one space and leading/trailing whitespace is dropped.
func appendTemplate(dst []byte, msg string) []byte {
	pendingSpace := false
	// unclosed remembers quote kinds with no closing quote left in msg: one
	// failed search per kind keeps the scan linear however many quotes there are.
	var unclosed [3]bool
	for i := 0; i < len(msg); {
		c := msg[i]
		if isSpace(c) {
			pendingSpace = len(dst) > 0
			i++
			continue
		}
		if pendingSpace {
			dst = append(dst, ' ')
			pendingSpace = false
		}
		if q := quoteKind(c); q >= 0 && !unclosed[q] && (i == 0 || !isTokenByte(msg[i-1])) {
			if end := closingQuote(msg, i); end > 0 {
				dst = append(dst, PlaceholderString...)
				i = end + 1
				continue
			}
			unclosed[q] = true
		}
		if isTokenByte(c) {
			j := i + 1
			for j < len(msg) && isTokenByte(msg[j]) {
				j++
			}
			// Backslashes right before a quote decide whether it is escaped:
			// they stay as written, so that a placeholder does not swallow the
			// escape and let the template's quotes pair up differently from
			// the message's (templating a template must change nothing).
			end := j
			if j < len(msg) && quoteKind(msg[j]) >= 0 {
				for end > i && msg[end-1] == '\\' {
					end--
				}
			}
			dst = appendToken(dst, msg[i:end])
			dst = append(dst, msg[end:j]...)
			i = j
			continue
		}
		dst = append(dst, c)
		i++
	}
	return dst
}

// closingQuote returns the index of the quote closing the one at msg[open],
// or -1. The closing quote must not be followed by a letter, digit or
// placeholder, so apostrophes inside words ("it's 'x'") do not pair up wrongly.
func closingQuote(msg string, open int) int {
	q := msg[open]
	for k := open + 1; k < len(msg); k++ {
		switch msg[k] {
		case '\\':
			k++
		case q:
			if k+1 < len(msg) && (isWordByte(msg[k+1]) || msg[k+1] == '<') {
				continue
			}
			return k
		}
	}
	return -1
}

// appendToken classifies one token (a run of letters, digits and joiners) and
// appends either a placeholder or the token with its variable segments replaced.
func appendToken(dst []byte, tok string) []byte {
	// Trailing sentence punctuation is not part of the token ("in /tmp/x." ).
	trail := len(tok)
	for trail > 0 && (tok[trail-1] == '.' || tok[trail-1] == ':') {
		trail--
	}
	core, suffix := tok[:trail], tok[trail:]
	switch {
	case core == "":
	case isURL(core):
		dst = append(dst, PlaceholderURL...)
	case isPath(core):
		dst = append(dst, PlaceholderPath...)
	case isUUID(core):
		dst = append(dst, PlaceholderID...)
	case isIPv4(core):
		dst = append(dst, PlaceholderIP...)
	case isNumeric(core):
		dst = append(dst, PlaceholderNumber...)
	default:
		dst = appendSegments(dst, core)
	}
	return append(dst, suffix...)
}

// appendSegments splits a token on joiners (. - _ : / and so on) and replaces
// each variable segment: "pod-7d9f8c6b5" → "pod-<hex>", "v2.14.1" kept apart
// from its letters → "v2.<num>.<num>".
func appendSegments(dst []byte, tok string) []byte {
	start := 0
	for k := 0; k <= len(tok); k++ {
		if k < len(tok) && !isJoiner(tok[k]) {
			continue
		}
		dst = appendSegment(dst, tok[start:k])
		if k < len(tok) {
			dst = append(dst, tok[k])
		}
		start = k + 1
	}
	return dst
}

func appendSegment(dst []byte, seg string) []byte {
	if seg == "" {
		return dst
	}
	digits, letters, hexLetters := 0, 0, 0
	for k := 0; k < len(seg); k++ {
		c := seg[k]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			letters++
			hexLetters++
		case isLetter(c):
			letters++
		}
	}
	switch {
	case digits == 0:
		return append(dst, seg...)
	case digits == len(seg):
		return append(dst, PlaceholderNumber...)
	case len(seg) > 2 && seg[0] == '0' && (seg[1] == 'x' || seg[1] == 'X') && isHex(seg[2:]):
		return append(dst, PlaceholderHex...)
	case digits+hexLetters == len(seg) && len(seg) >= minHexLen:
		return append(dst, PlaceholderHex...)
	case digits+letters == len(seg) && len(seg) >= minMixedIDLen:
		return append(dst, PlaceholderID...)
	}
	// A number followed by a short unit: 35ms, 10KiB, 3s.
	n := 0
	for n < len(seg) && seg[n] >= '0' && seg[n] <= '9' {
		n++
	}
	if n > 0 && len(seg)-n <= maxUnitLen && allLetters(seg[n:]) {
		dst = append(dst, PlaceholderNumber...)
		return append(dst, seg[n:]...)
	}
	return append(dst, seg...)
}

// isURL reports scheme://… tokens.
func isURL(tok string) bool {
	k := 0
	for k < len(tok) && isLetter(tok[k]) {
		k++
	}
	return k > 0 && len(tok) > k+3 && tok[k] == ':' && tok[k+1] == '/' && tok[k+2] == '/'
}

// isPath reports absolute, home-relative, dot-relative and Windows paths.
func isPath(tok string) bool {
	switch {
	case len(tok) > 1 && tok[0] == '/':
		return true
	case len(tok) > 2 && tok[0] == '~' && tok[1] == '/':
		return true
	case len(tok) > 2 && tok[0] == '.' && tok[1] == '/':
		return true
	case len(tok) > 3 && tok[0] == '.' && tok[1] == '.' && tok[2] == '/':
		return true
	case len(tok) > 3 && isLetter(tok[0]) && tok[1] == ':' && tok[2] == '\\':
		return true
	case len(tok) > 2 && tok[0] == '\\' && tok[1] == '\\':
		return true
	}
	return false
}

// isUUID reports the 8-4-4-4-12 hex form.
func isUUID(tok string) bool {
	if len(tok) != 36 {
		return false
	}
	for k := 0; k < len(tok); k++ {
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if tok[k] != '-' {
				return false
			}
			continue
		}
		if !isHexByte(tok[k]) {
			return false
		}
	}
	return true
}

// isIPv4 reports a.b.c.d with an optional :port.
func isIPv4(tok string) bool {
	if p := strings.IndexByte(tok, ':'); p >= 0 {
		if !isDigits(tok[p+1:]) {
			return false
		}
		tok = tok[:p]
	}
	parts := 0
	start := 0
	for k := 0; k <= len(tok); k++ {
		if k < len(tok) && tok[k] != '.' {
			if tok[k] < '0' || tok[k] > '9' {
				return false
			}
			continue
		}
		if n := k - start; n == 0 || n > 3 {
			return false
		}
		parts++
		start = k + 1
	}
	return parts == 4
}

// isNumeric reports numbers, decimals, dates, times and versions: a leading
// digit (or sign) followed only by digits and . , : - + / T Z.
func isNumeric(tok string) bool {
	k := 0
	if tok[0] == '-' || tok[0] == '+' {
		k = 1
	}
	if k >= len(tok) || tok[k] < '0' || tok[k] > '9' {
		return false
	}
	for ; k < len(tok); k++ {
		c := tok[k]
		switch {
		case c >= '0' && c <= '9':
		case c == '.', c == ',', c == ':', c == '-', c == '+', c == 'T', c == 'Z':
		default:
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for k := 0; k < len(s); k++ {
		if !isHexByte(s[k]) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for k := 0; k < len(s); k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	return true
}

func allLetters(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isLetter(s[k]) {
			return false
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isWordByte(c byte) bool { return isLetter(c) || (c >= '0' && c <= '9') || c == '_' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// quoteKind returns 0, 1, 2 for the quote characters " ' ` and -1 otherwise.
func quoteKind(c byte) int {
	switch c {
	case '"':
		return 0
	case '\'':
		return 1
	case '`':
		return 2
	}
	return -1
}

// isJoiner reports bytes that join segments inside one token. '<' and '>'
// are joiners so that a placeholder stays inside its token and templating a
// template changes nothing.
func isJoiner(c byte) bool {
	return c == '<' || c == '>' || c == '.' || c == '-' || c == '_' || c == ':' || c == '/' || c == '\\' || c == '@' || c == '+' || c == '~' || c == '%'
}

// isTokenByte reports bytes that belong to a token: ASCII letters, digits and joiners.
func isTokenByte(c byte) bool {
	return isLetter(c) || (c >= '0' && c <= '9') || isJoiner(c)
}
