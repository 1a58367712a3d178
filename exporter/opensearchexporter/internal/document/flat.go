package document // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/document"

import (
	"encoding/base64"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sluicelogs/sluice/internal/validutf8"
)

// MaxIndexedValue is the longest string (in bytes) written as a leaf of a
// flat_object field (resource, attributes, scope, event and link attributes).
// flat_object indexes every leaf as one Lucene term, alone and prefixed with
// its path, and Lucene refuses terms over 32,766 bytes: one Java stack trace in
// an attribute made OpenSearch reject the whole document. Longer leaves are
// cut here (at a UTF-8 boundary) and the attribute's complete value is kept in
// the document's "untruncated" object, stored but not indexed.
const MaxIndexedValue = 8192

// overflowEntry is an attribute with a leaf longer than MaxIndexedValue: its
// path from the document root ("attributes.exception.stacktrace") and its
// complete value.
type overflowEntry struct {
	path string
	v    pcommon.Value
}

// path is where the attribute key of the flat field lies, computed only
// when an attribute overflows.
func (o *object) path(field, key string) string {
	p := field + "." + key
	switch {
	case o.parent == "":
		return p
	case o.idx < 0:
		return o.parent + "." + p
	default:
		return o.parent + "." + strconv.Itoa(o.idx) + "." + p
	}
}

// appendFlat appends m as AppendMap does, cutting leaves longer than
// MaxIndexedValue and recording the attributes that had them.
func (o *object) appendFlat(dst []byte, field string, m pcommon.Map) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range m.All() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		if !tooLong(v) {
			dst = AppendValue(dst, v)
			continue
		}
		dst = appendCut(dst, v)
		o.over = append(o.over, overflowEntry{path: o.path(field, k), v: v})
	}
	return append(dst, '}')
}

// tooLong reports whether v has a leaf longer than MaxIndexedValue once
// encoded (bytes are base64 text).
func tooLong(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return len(v.Str()) > MaxIndexedValue
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodedLen(v.Bytes().Len()) > MaxIndexedValue
	case pcommon.ValueTypeMap:
		for _, e := range v.Map().All() {
			if tooLong(e) {
				return true
			}
		}
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			if tooLong(e) {
				return true
			}
		}
	}
	return false
}

// appendCut is AppendValue with every leaf cut to MaxIndexedValue bytes.
func appendCut(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return AppendString(dst, v.Str()[:validutf8.Cut(v.Str(), MaxIndexedValue)])
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if n := base64.StdEncoding.DecodedLen(MaxIndexedValue); len(b) > n {
			b = b[:n]
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"')
	case pcommon.ValueTypeMap:
		dst = append(dst, '{')
		first := true
		for k, e := range v.Map().All() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = appendCut(dst, e)
		}
		return append(dst, '}')
	case pcommon.ValueTypeSlice:
		dst = append(dst, '[')
		for i, e := range v.Slice().All() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCut(dst, e)
		}
		return append(dst, ']')
	}
	return AppendValue(dst, v)
}

// closeDocument ends the top-level document, adding "untruncated" with the
// complete values of the attributes appendFlat cut.
func (o *object) closeDocument() []byte {
	if len(o.over) > 0 {
		o.key("untruncated")
		o.buf = append(o.buf, '{')
		for i, e := range o.over {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			o.buf = AppendString(o.buf, e.path) // holds attribute keys: escaped
			o.buf = append(o.buf, ':')
			o.buf = AppendValue(o.buf, e.v)
		}
		o.buf = append(o.buf, '}')
	}
	return o.close()
}
