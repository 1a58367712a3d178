package container

import (
	"bytes"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// DockerDecoder decodes Docker json-file lines:
// {"log":"content\n","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}.
// It reuses one scratch buffer for the unescaped content, so decoding does
// not allocate.
type DockerDecoder struct{ scratch []byte }

// LooksLikeDocker is a cheap check used for format detection.
func LooksLikeDocker(line []byte) bool {
	return bytes.HasPrefix(line, []byte(`{"log":`))
}

// Decode parses one line. A "log" value without a trailing newline is a
// partial chunk of a longer line.
func (d *DockerDecoder) Decode(line []byte) (Entry, bool) {
	s := scanner{b: line}
	if !s.consume('{') {
		return Entry{}, false
	}
	var e Entry
	var haveLog, haveStream bool
	d.scratch = d.scratch[:0]
	for first := true; ; first = false {
		s.skipSpace()
		if s.consume('}') {
			break
		}
		if !first && !s.consume(',') {
			return Entry{}, false
		}
		s.skipSpace()
		key, ok := s.rawString()
		if !ok {
			return Entry{}, false
		}
		s.skipSpace()
		if !s.consume(':') {
			return Entry{}, false
		}
		s.skipSpace()
		switch string(key) {
		case "log":
			raw, ok := s.rawString()
			if !ok {
				return Entry{}, false
			}
			if d.scratch, ok = unescape(d.scratch, raw); !ok {
				return Entry{}, false
			}
			haveLog = true
		case "stream":
			raw, ok := s.rawString()
			if !ok {
				return Entry{}, false
			}
			if e.Stream, ok = streamName(raw); !ok {
				return Entry{}, false
			}
			haveStream = true
		case "time":
			raw, ok := s.rawString()
			if !ok {
				return Entry{}, false
			}
			ts, err := time.Parse(time.RFC3339Nano, string(raw))
			if err != nil {
				return Entry{}, false
			}
			e.Time = ts
		default:
			if !s.skipValue() {
				return Entry{}, false
			}
		}
	}
	s.skipSpace()
	if !haveLog || !haveStream || s.i != len(s.b) {
		return Entry{}, false
	}
	content := d.scratch
	if n := len(content); n > 0 && content[n-1] == '\n' {
		content = content[:n-1]
	} else {
		e.Partial = true
	}
	e.Content = content
	return e, true
}

// scanner is a minimal JSON reader for the flat objects Docker writes.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\r' || s.b[s.i] == '\n') {
		s.i++
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString returns the still-escaped contents of a JSON string.
func (s *scanner) rawString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			raw := s.b[start:s.i]
			s.i++
			return raw, true
		default:
			s.i++
		}
	}
	return nil, false
}

// skipValue skips any JSON value (objects and arrays by bracket depth).
func (s *scanner) skipValue() bool {
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, ok := s.rawString(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true // end of the enclosing object
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case ',':
			if depth == 0 {
				return true
			}
		}
		s.i++
	}
	return false
}

// unescape appends the decoded JSON string raw to dst.
func unescape(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			return dst, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw[min(i+3, len(raw)):]); ok && i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
