// Package logfmt decodes logfmt lines (key=value key2="quoted value" flag),
// the format of Go's log/slog text handler, logrus and Heroku.
package logfmt // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/logfmt"

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every decoding error.
var ErrSyntax = errors.New("logfmt syntax error")

// Decoder decodes lines, reusing a scratch buffer for unquoted values. Not
// safe for concurrent use.
type Decoder struct{ scratch []byte }

// LooksLikeLogfmt is a cheap check used for format detection: the line starts
// with an identifier followed by '=' and a non-space value.
func LooksLikeLogfmt(line []byte) bool {
	i := 0
	for i < len(line) && isKeyByte(line[i]) && line[i] != '.' && line[i] != '-' {
		i++
	}
	return i > 0 && i+1 < len(line) && line[i] == '=' && line[i+1] > ' '
}

// Decode calls fn for every pair of line. A key without '=' has an empty
// value. key and value are only valid during the call.
func (d *Decoder) Decode(line []byte, fn func(key, value []byte)) error {
	i := 0
	for {
		for i < len(line) && line[i] <= ' ' {
			i++
		}
		if i >= len(line) {
			return nil
		}
		start := i
		for i < len(line) && isKeyByte(line[i]) {
			i++
		}
		if i == start {
			return fmt.Errorf("%w: unexpected %q at column %d", ErrSyntax, line[i], i)
		}
		key := line[start:i]
		if i >= len(line) || line[i] <= ' ' {
			fn(key, nil)
			continue
		}
		if line[i] != '=' {
			return fmt.Errorf("%w: unexpected %q after key %q", ErrSyntax, line[i], key)
		}
		i++
		if i < len(line) && line[i] == '"' {
			end, err := quotedEnd(line, i)
			if err != nil {
				return err
			}
			val, err := d.unquote(line[i:end])
			if err != nil {
				return err
			}
			fn(key, val)
			i = end
			if i < len(line) && line[i] > ' ' {
				return fmt.Errorf("%w: missing space after quoted value of %q", ErrSyntax, key)
			}
			continue
		}
		start = i
		for i < len(line) && line[i] > ' ' && line[i] != '"' {
			i++
		}
		if i < len(line) && line[i] == '"' {
			return fmt.Errorf("%w: unexpected quote in value of %q", ErrSyntax, key)
		}
		fn(key, line[start:i])
	}
}

func isKeyByte(c byte) bool {
	return c > ' ' && c != '=' && c != '"' && c < utf8.RuneSelf || c >= utf8.RuneSelf
}

// quotedEnd returns the index just after the closing quote of the string
// starting at line[i].
func quotedEnd(line []byte, i int) (int, error) {
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated quoted value", ErrSyntax)
}

// unquote decodes a quoted value (Go/JSON escapes); plain ones are returned
// as is without copying.
func (d *Decoder) unquote(q []byte) ([]byte, error) {
	inner := q[1 : len(q)-1]
	escaped := false
	for _, c := range inner {
		if c == '\\' {
			escaped = true
			break
		}
	}
	if !escaped {
		return inner, nil
	}
	s, err := strconv.Unquote(string(q))
	if err != nil {
		return nil, fmt.Errorf("%w: bad escape in %q", ErrSyntax, q)
	}
	d.scratch = append(d.scratch[:0], s...)
	return d.scratch, nil
}
