// Package document encodes OpenTelemetry log records and spans as OpenSearch
// documents in the Simple Schema for Observability (SS4O) layout and derives
// their deterministic document ids.
//
// Encoding appends to a caller-owned buffer so the hot path allocates nothing
// per record beyond what pdata already holds.
package document // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/document"

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sluicelogs/sluice/internal/jsonenc"
)

// timeLayout keeps nanoseconds (the template maps timestamps as date_nanos) and a
// fixed width so the encoded document, and with it the id, never varies.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendString appends s as a JSON string (see jsonenc.AppendString).
func AppendString(dst []byte, s string) []byte { return jsonenc.AppendString(dst, s) }

// AppendTime appends t (UTC, nanosecond precision) as a JSON string in the
// fixed-width layout timeLayout (pcommon timestamps always have 4-digit years). It writes digits directly: time.AppendFormat
// re-parses the layout on every call and showed up in encoding profiles.
func AppendTime(dst []byte, ts pcommon.Timestamp) []byte {
	t := time.Unix(0, int64(ts)).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	dst = append(dst, '"')
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z', '"')
}

// appendDigits appends v zero-padded to width digits.
func appendDigits(dst []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// appendHex appends b as a lower-case hex JSON string.
func appendHex(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, b)
	return append(dst, '"')
}

// AppendValue appends an OTel AnyValue as JSON. Non-finite doubles, which JSON
// cannot represent, are written as strings.
func AppendValue(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return AppendString(dst, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
			return append(dst, '"')
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case pcommon.ValueTypeMap:
		return AppendMap(dst, v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, s.At(i))
		}
		return append(dst, ']')
	case pcommon.ValueTypeBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes().AsRaw())
		return append(dst, '"')
	default: // ValueTypeEmpty
		return append(dst, "null"...)
	}
}

// AppendMap appends m as a JSON object in insertion order.
func AppendMap(dst []byte, m pcommon.Map) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range m.All() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = AppendValue(dst, v)
	}
	return append(dst, '}')
}

// object tracks the comma state of a JSON object being appended.
type object struct {
	buf   []byte
	empty bool
	// parent and idx name a nested object's place in the document
	// ("instrumentationScope", or "events" and the event's index; idx is -1
	// when not in an array), for the paths of cut attributes.
	parent string
	idx    int
	// over collects the attributes appendFlat cut; a nested object takes it
	// over from its parent and hands it back (see nest and unnest).
	over []overflowEntry
}

func openObject(dst []byte) object { return object{buf: append(dst, '{'), empty: true, idx: -1} }

// nest opens a nested object at the current key, named parent (and idx in an
// array, else -1), carrying the cut-attribute list along.
func (o *object) nest(parent string, idx int) object {
	n := openObject(o.buf)
	n.parent, n.idx, n.over = parent, idx, o.over
	return n
}

// unnest closes a nested object made by nest.
func (o *object) unnest(n *object) {
	o.buf = n.close()
	o.over = n.over
}

func (o *object) key(k string) {
	if !o.empty {
		o.buf = append(o.buf, ',')
	}
	o.empty = false
	o.buf = append(o.buf, '"')
	o.buf = append(o.buf, k...) // keys are constants without characters to escape
	o.buf = append(o.buf, '"', ':')
}

func (o *object) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.buf = AppendString(o.buf, v)
}

func (o *object) int(k string, v int64) {
	o.key(k)
	o.buf = strconv.AppendInt(o.buf, v, 10)
}

func (o *object) time(k string, ts pcommon.Timestamp) {
	o.key(k)
	o.buf = AppendTime(o.buf, ts)
}

func (o *object) attrs(k string, m pcommon.Map) {
	if m.Len() == 0 {
		return
	}
	o.key(k)
	o.buf = o.appendFlat(o.buf, k, m)
}

func (o *object) scope(s pcommon.InstrumentationScope, schemaURL string) {
	if s.Name() == "" && s.Version() == "" && schemaURL == "" && s.Attributes().Len() == 0 {
		return
	}
	o.key("instrumentationScope")
	inner := o.nest("instrumentationScope", -1)
	inner.str("name", s.Name())
	inner.str("version", s.Version())
	inner.str("schemaUrl", schemaURL)
	inner.attrs("attributes", s.Attributes())
	if n := s.DroppedAttributesCount(); n > 0 {
		inner.int("droppedAttributesCount", int64(n))
	}
	o.unnest(&inner)
}

func (o *object) close() []byte { return append(o.buf, '}') }
