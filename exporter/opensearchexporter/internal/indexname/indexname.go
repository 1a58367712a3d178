// Package indexname parses index name templates such as
// "ss4o_logs-{service.name}-{yyyy.MM.dd}" and renders them per record.
package indexname // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/indexname"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// MaxNameBytes is OpenSearch's limit on index name length.
const MaxNameBytes = 255

// maxValueBytes caps how much of one attribute value goes into a name, so a
// long value cannot push the date suffix past MaxNameBytes.
const maxValueBytes = 64

type partKind uint8

const (
	partLiteral partKind = iota
	partAttribute
	partDate
)

type part struct {
	kind partKind
	text string // literal text, attribute key, or date layout
}

// Template is a parsed index name template. The zero value is not usable; build
// one with Parse.
type Template struct {
	parts   []part
	static  string // the whole name when the template has no placeholders
	missing string
}

// Parse parses tmpl. Placeholders are {attribute.key}, looked up in the
// resource attributes and then in the record attributes, and {date layout}
// made of yyyy, yy, MM, dd and HH with the separators . - _, rendered from the
// record time in UTC. missing replaces an attribute that is absent or empty.
func Parse(tmpl, missing string) (*Template, error) {
	if tmpl == "" {
		return nil, errors.New("must not be empty")
	}
	if err := checkLiteral(missing); err != nil {
		return nil, fmt.Errorf("missing value %q: %w", missing, err)
	}
	t := &Template{missing: missing}
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.parts = append(t.parts, part{kind: partLiteral, text: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, part{kind: partLiteral, text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed '{' at byte %d", len(tmpl)-len(rest)+open)
		}
		inner := rest[open+1 : open+end]
		if inner == "" || strings.ContainsAny(inner, "{ ") {
			return nil, fmt.Errorf("invalid placeholder %q", rest[open:open+end+1])
		}
		if layout, ok := dateLayout(inner); ok {
			t.parts = append(t.parts, part{kind: partDate, text: layout})
		} else {
			t.parts = append(t.parts, part{kind: partAttribute, text: inner})
		}
		rest = rest[open+end+1:]
	}
	for _, p := range t.parts {
		if p.kind == partLiteral {
			if strings.IndexByte(p.text, '}') >= 0 {
				return nil, errors.New("unmatched '}'")
			}
			if err := checkLiteral(p.text); err != nil {
				return nil, err
			}
		}
	}
	if t.parts[0].kind != partLiteral || strings.ContainsAny(t.parts[0].text[:1], "-_+.") {
		return nil, errors.New("must start with a literal character other than '-', '_', '+' or '.'")
	}
	if len(t.parts) == 1 {
		t.static = t.parts[0].text
		if len(t.static) > MaxNameBytes {
			return nil, fmt.Errorf("longer than %d bytes", MaxNameBytes)
		}
	}
	return t, nil
}

// checkLiteral accepts the characters OpenSearch allows in index names, minus
// upper case (names must be lower case).
func checkLiteral(s string) error {
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return fmt.Errorf("character %q is not allowed in an index name (use a-z, 0-9, '-', '_', '.', '+')", s[i])
		}
	}
	return nil
}

func allowed(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+'
}

// dateLayout converts a placeholder such as yyyy.MM.dd into a Go time layout.
func dateLayout(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "yyyy"):
			b.WriteString("2006")
			i += 4
		case strings.HasPrefix(s[i:], "yy"):
			b.WriteString("06")
			i += 2
		case strings.HasPrefix(s[i:], "MM"):
			b.WriteString("01")
			i += 2
		case strings.HasPrefix(s[i:], "dd"):
			b.WriteString("02")
			i += 2
		case strings.HasPrefix(s[i:], "HH"):
			b.WriteString("15")
			i += 2
		case s[i] == '.' || s[i] == '-' || s[i] == '_':
			b.WriteByte(s[i])
			i++
		default:
			return "", false
		}
	}
	return b.String(), true
}

// Static returns the index name when the template has no placeholders.
func (t *Template) Static() (string, bool) { return t.static, t.static != "" }

// Pattern returns an index pattern matching every name the template renders,
// e.g. "ss4o_logs-*" for "ss4o_logs-{service.name}-{yyyy.MM.dd}".
func (t *Template) Pattern() string {
	if t.static != "" {
		return t.static
	}
	return t.parts[0].text + "*"
}

// AppendName appends the index name for one record to dst.
func (t *Template) AppendName(dst []byte, resource, attributes pcommon.Map, ts pcommon.Timestamp) []byte {
	if t.static != "" {
		return append(dst, t.static...)
	}
	start := len(dst)
	var tm time.Time
	haveTime := false
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.text...)
		case partDate:
			if !haveTime {
				tm = time.Unix(0, int64(ts)).UTC()
				haveTime = true
			}
			dst = tm.AppendFormat(dst, p.text)
		case partAttribute:
			dst = t.appendAttribute(dst, p.text, resource, attributes)
		}
	}
	if len(dst)-start > MaxNameBytes {
		dst = dst[:start+MaxNameBytes]
	}
	return dst
}

func (t *Template) appendAttribute(dst []byte, key string, resource, attributes pcommon.Map) []byte {
	v, ok := resource.Get(key)
	if !ok {
		v, ok = attributes.Get(key)
	}
	var s string
	if ok {
		if v.Type() == pcommon.ValueTypeStr {
			s = v.Str()
		} else {
			s = v.AsString()
		}
	}
	if s == "" {
		return append(dst, t.missing...)
	}
	if len(s) > maxValueBytes {
		s = s[:maxValueBytes]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !allowed(c) {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}
