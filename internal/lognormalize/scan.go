package lognormalize

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The document scanner: one pass over a JSON document that records every
// value as a node of a flat, reused tape (byte offsets into the document, no
// copies, no per-value allocation). Strings are only delimited while
// scanning; they are unescaped when, and if, their value is used.
//
// Grammar: RFC 8259, except that strings may hold raw control characters and
// unknown escape sequences (both kept as written, as many loggers emit them),
// and that NaN, Infinity and -Infinity are accepted as numbers (Python's
// json module writes them).

// kind is the JSON type of a node.
type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k kind) String() string {
	return [...]string{"null", "false", "true", "number", "string", "object", "array"}[k]
}

// Node flags: whether a string needs unescaping or a UTF-8 check. Keys are
// checked for UTF-8 when they are interned, so they need only the first.
const (
	flagEscaped    uint8 = 1 << iota // the value has escape sequences
	flagNonASCII                     // the value has bytes >= 0x80
	flagKeyEscaped                   // the member's key has escape sequences
)

// maxDepth bounds nesting (the scanner and the pdata writer recurse).
const maxDepth = 512

// maxRetainedNodes bounds the tape kept between documents (~1.8 MiB); a
// larger one is let go before the next document.
const maxRetainedNodes = 64 << 10

// node is one value of the document, in document order: a container's
// members or elements follow it, and next is the index after its subtree.
type node struct {
	kind  kind
	flags uint8
	// keyStart, keyEnd delimit the member's key inside its quotes (object
	// members only).
	keyStart, keyEnd int32
	// start, end delimit a string's content inside its quotes, or a number.
	start, end int32
	// next is the index of the first node after this value and its children.
	next int32
	// count is the number of members or elements of an object or array.
	count int32
}

// tape is a scanned document. Reuse one: nodes keeps its capacity.
type tape struct {
	doc   []byte
	nodes []node
	pos   int
}

// syntaxError says what was wrong where, quoting a little of the document.
type syntaxError struct {
	msg    string
	offset int
	near   string
}

func (e *syntaxError) Error() string {
	if e.near == "" {
		return fmt.Sprintf("%s at offset %d", e.msg, e.offset)
	}
	return fmt.Sprintf("%s at offset %d near %q", e.msg, e.offset, e.near)
}

// scan fills t with doc's values; nodes[0] is the document's value.
func (t *tape) scan(doc []byte) error {
	if len(doc) > 1<<31-1 {
		return &syntaxError{msg: "document larger than 2 GiB", offset: 0}
	}
	if cap(t.nodes) > maxRetainedNodes {
		t.nodes = nil // a rare huge document does not keep its tape for good
	}
	t.doc, t.nodes, t.pos = doc, t.nodes[:0], 0
	t.skipSpace()
	if t.pos == len(doc) {
		return t.fail("empty document")
	}
	if err := t.value(0); err != nil {
		return err
	}
	t.skipSpace()
	if t.pos != len(doc) {
		return t.fail("unexpected data after the document")
	}
	return nil
}

func (t *tape) fail(msg string) error {
	near := t.doc[t.pos:]
	if len(near) > 24 {
		near = near[:24]
	}
	return &syntaxError{msg: msg, offset: t.pos, near: string(near)}
}

// isSpace marks the four JSON whitespace bytes.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (t *tape) skipSpace() {
	for t.pos < len(t.doc) && isSpace[t.doc[t.pos]] {
		t.pos++
	}
}

// value scans one value at t.pos (whitespace already skipped) and appends
// its node; the caller sets key fields on it.
func (t *tape) value(depth int) error {
	if depth >= maxDepth {
		return t.fail(fmt.Sprintf("nesting deeper than %d", maxDepth))
	}
	at := len(t.nodes)
	t.nodes = append(t.nodes, node{})
	switch c := t.doc[t.pos]; c {
	case '{':
		t.pos++
		if err := t.object(at, depth); err != nil {
			return err
		}
	case '[':
		t.pos++
		if err := t.array(at, depth); err != nil {
			return err
		}
	case '"':
		t.pos++
		start := t.pos
		flags, err := t.stringEnd()
		if err != nil {
			return err
		}
		t.nodes[at] = node{kind: kindString, flags: flags, start: int32(start), end: int32(t.pos - 1)}
	case 't':
		if err := t.literal("true"); err != nil {
			return err
		}
		t.nodes[at].kind = kindTrue
	case 'f':
		if err := t.literal("false"); err != nil {
			return err
		}
		t.nodes[at].kind = kindFalse
	case 'n':
		if err := t.literal("null"); err != nil {
			return err
		}
		t.nodes[at].kind = kindNull
	default:
		start := t.pos
		if err := t.number(); err != nil {
			return err
		}
		t.nodes[at] = node{kind: kindNumber, start: int32(start), end: int32(t.pos)}
	}
	t.nodes[at].next = int32(len(t.nodes))
	return nil
}

func (t *tape) object(at, depth int) error {
	t.nodes[at].kind = kindObject
	t.skipSpace()
	if t.pos < len(t.doc) && t.doc[t.pos] == '}' {
		t.pos++
		return nil
	}
	count := int32(0)
	for {
		if t.pos == len(t.doc) || t.doc[t.pos] != '"' {
			return t.fail(`expected '"' to start an object key`)
		}
		t.pos++
		keyStart := t.pos
		keyFlags, err := t.stringEnd()
		if err != nil {
			return err
		}
		keyEnd := t.pos - 1
		t.skipSpace()
		if t.pos == len(t.doc) || t.doc[t.pos] != ':' {
			return t.fail("expected ':' after an object key")
		}
		t.pos++
		t.skipSpace()
		if t.pos == len(t.doc) {
			return t.fail("expected a value")
		}
		member := len(t.nodes)
		if err := t.value(depth + 1); err != nil {
			return err
		}
		m := &t.nodes[member]
		m.keyStart, m.keyEnd = int32(keyStart), int32(keyEnd)
		if keyFlags&flagEscaped != 0 {
			m.flags |= flagKeyEscaped
		}
		count++
		if closed, err := t.separator('}', "expected ',' or '}' in an object"); err != nil || closed {
			t.nodes[at].count = count
			return err
		}
	}
}

func (t *tape) array(at, depth int) error {
	t.nodes[at].kind = kindArray
	t.skipSpace()
	if t.pos < len(t.doc) && t.doc[t.pos] == ']' {
		t.pos++
		return nil
	}
	count := int32(0)
	for {
		if t.pos == len(t.doc) {
			return t.fail("expected a value")
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
		count++
		if closed, err := t.separator(']', "expected ',' or ']' in an array"); err != nil || closed {
			t.nodes[at].count = count
			return err
		}
	}
}

// separator reads what follows a member or an element: a comma (more
// follow) or the container's closing byte (closed).
func (t *tape) separator(closing byte, msg string) (closed bool, err error) {
	t.skipSpace()
	if t.pos < len(t.doc) {
		switch t.doc[t.pos] {
		case ',':
			t.pos++
			t.skipSpace()
			return false, nil
		case closing:
			t.pos++
			return true, nil
		}
	}
	return false, t.fail(msg)
}

// Word-at-a-time constants: one in every byte, and every byte's high bit.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stringEnd moves t.pos past the closing quote of a string whose content
// starts at t.pos and returns flagEscaped/flagNonASCII as found. It reads
// eight bytes at a time and stops only at a quote, a backslash or (until one
// is found) a non-ASCII byte.
func (t *tape) stringEnd() (uint8, error) {
	doc, i := t.doc, t.pos
	var flags uint8
	high := uint64(msb) // stop at non-ASCII bytes until the first one
	for {
		for i+8 <= len(doc) {
			w := binary.LittleEndian.Uint64(doc[i:])
			// (x-lsb) &^ x has its high bit set in the first zero byte of x
			// (bytes after it may be false positives; only the first counts).
			q, b := w^(lsb*'"'), w^(lsb*'\\')
			stops := (((q - lsb) &^ q) | ((b - lsb) &^ b)) & msb
			stops |= w & high
			if stops == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(stops) >> 3
			break
		}
		if i >= len(doc) {
			t.pos = len(doc)
			return 0, t.fail("unterminated string")
		}
		switch c := doc[i]; {
		case c == '"':
			t.pos = i + 1
			return flags, nil
		case c == '\\':
			flags |= flagEscaped
			if i+1 < len(doc) && doc[i+1] >= 0x80 {
				flags |= flagNonASCII // kept as written after the backslash
				high = 0
			}
			i += 2 // the escaped byte never ends the string
		case c >= 0x80:
			flags |= flagNonASCII
			high = 0
			i++
		default: // the last few bytes of the document, read one at a time
			i++
		}
	}
}

func (t *tape) literal(word string) error {
	if len(t.doc)-t.pos < len(word) || string(t.doc[t.pos:t.pos+len(word)]) != word {
		return t.fail("invalid literal")
	}
	t.pos += len(word)
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, or NaN,
// Infinity, -Infinity.
func (t *tape) number() error {
	doc, i := t.doc, t.pos
	if i < len(doc) && doc[i] == '-' {
		i++
	}
	if i < len(doc) && (doc[i] == 'I' || doc[i] == 'N') {
		for _, word := range [...]string{"Infinity", "NaN"} {
			if len(doc)-i >= len(word) && string(doc[i:i+len(word)]) == word && (word != "NaN" || i == t.pos) {
				t.pos = i + len(word)
				return nil
			}
		}
		return t.fail("invalid number")
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
			i++
		}
	default:
		return t.fail("invalid value")
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		digits := i
		for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
			i++
		}
		if i == digits {
			t.pos = i
			return t.fail("expected digits after '.' in a number")
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		digits := i
		for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
			i++
		}
		if i == digits {
			t.pos = i
			return t.fail("expected digits in a number's exponent")
		}
	}
	t.pos = i
	return nil
}

// key returns a member's key bytes, unescaped into *scratch when needed.
// Invalid UTF-8 is left for the caller (interning validates).
func (t *tape) key(n *node, scratch *[]byte) []byte {
	raw := t.doc[n.keyStart:n.keyEnd]
	if n.flags&flagKeyEscaped == 0 {
		return raw
	}
	*scratch = unescape((*scratch)[:0], raw)
	return *scratch
}

// str returns a string node's content, unescaped into *scratch when needed.
func (t *tape) str(n *node, scratch *[]byte) []byte {
	raw := t.doc[n.start:n.end]
	if n.flags&flagEscaped == 0 {
		return raw
	}
	*scratch = unescape((*scratch)[:0], raw)
	return *scratch
}

// raw returns a number's text (or a string's content as written).
func (t *tape) raw(n *node) []byte { return t.doc[n.start:n.end] }

// unescape appends s with its escape sequences decoded to dst. Sequences
// that are not valid JSON escapes are kept as written (best effort: a log
// line is worth more than strictness); a \u escape that is half of a
// surrogate pair without its other half is kept as written too.
func unescape(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) < 2 {
			return append(dst, s...)
		}
		switch c := s[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			s = s[2:]
		case 'b':
			dst, s = append(dst, '\b'), s[2:]
		case 'f':
			dst, s = append(dst, '\f'), s[2:]
		case 'n':
			dst, s = append(dst, '\n'), s[2:]
		case 'r':
			dst, s = append(dst, '\r'), s[2:]
		case 't':
			dst, s = append(dst, '\t'), s[2:]
		case 'u':
			r, ok := hex4(s[2:])
			if !ok {
				dst, s = append(dst, s[:2]...), s[2:]
				continue
			}
			if !utf16.IsSurrogate(r) {
				dst, s = utf8.AppendRune(dst, r), s[6:]
				continue
			}
			// A surrogate needs its pair: "\uD83D\uDE00".
			if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if r2, ok := hex4(s[8:]); ok {
					dst, s = utf8.AppendRune(dst, utf16.DecodeRune(r, r2)), s[12:]
					continue
				}
			}
			dst, s = append(dst, s[:6]...), s[6:]
		default:
			dst, s = append(dst, s[:2]...), s[2:]
		}
	}
	return dst
}

// hex4 decodes the four hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s[:4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}
