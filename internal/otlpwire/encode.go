package otlpwire // import "github.com/sluicelogs/sluice/internal/otlpwire"

import (
	"encoding/binary"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"
	"google.golang.org/protobuf/encoding/protowire"
)

// EncodeTraces fills b with the spans of td in protobuf wire form, each apart
// from its resource and scope headers, encoding straight from pdata in one
// forward pass: no size pass, no intermediate message, no second copy —
// several times cheaper than pdata's marshaler followed by a split.
//
// The bytes are those pdata's marshaler writes (same fields, same order), so
// records hash and reassemble alike whichever produced them;
// TestEncodeTracesMatchesPdata and FuzzEncode hold the two together. The one
// exception are the profiles string-table references (KeyValue.key_strindex,
// AnyValue.string_value_strindex), which only the profiles signal uses and
// pdata does not expose: they are not carried over (such a value becomes an
// empty value). A new record field in a future pdata needs a line here.
//
// A caller that also needs to look at each record walks td itself with
// Reset, AddResource, AddScope, AddSpan and Finish, which produce the same
// result while each record is still in the CPU cache.
func (b *Batch) EncodeTraces(td ptrace.Traces) {
	b.Reset()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		b.AddResource(rs.Resource(), rs.SchemaUrl())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			b.AddScope(ss.Scope(), ss.SchemaUrl())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				b.AddSpan(spans.At(k))
			}
		}
	}
	b.Finish()
}

// EncodeLogs is EncodeTraces for logs.
func (b *Batch) EncodeLogs(ld plog.Logs) {
	b.Reset()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		b.AddResource(rl.Resource(), rl.SchemaUrl())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			b.AddScope(sl.Scope(), sl.SchemaUrl())
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				b.AddLogRecord(lrs.At(k))
			}
		}
	}
	b.Finish()
}

// scopeOffs locates one scope's headers in Batch.buf while it may still
// move (it grows by append); Finish turns offsets into slices once it no
// longer does. Headers need this because closeField may still shift bytes
// of the open message.
type scopeOffs struct {
	res, scope [2]int
	first, end int
	resource   int
}

// Reset starts a new batch. The slices handed out by the previous one are
// invalid from here on.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	// Records may reference buffers that b.buf outgrew: let them go.
	clear(b.Records)
	b.Records = b.Records[:0]
	b.scopeOffs = b.scopeOffs[:0]
	b.resources = 0
}

// AddResource encodes the header of a resource; the scopes added next
// belong to it.
func (b *Batch) AddResource(res pcommon.Resource, schemaURL string) {
	b.res = b.appendResourceHeader(res, schemaURL)
	b.resources++
}

// AddScope encodes the header of a scope of the current resource; the
// records added next belong to it.
func (b *Batch) AddScope(sc pcommon.InstrumentationScope, schemaURL string) {
	hdr := b.appendScopeHeader(sc, schemaURL)
	first := len(b.Records)
	b.scopeOffs = append(b.scopeOffs, scopeOffs{res: b.res, scope: hdr, first: first, end: first, resource: b.resources})
}

// AddSpan encodes one span of the current scope (AddScope comes first).
func (b *Batch) AddSpan(sp ptrace.Span) {
	start := len(b.buf)
	b.buf = appendSpan(b.buf, sp)
	b.addRecord(start)
}

// AddLogRecord encodes one log record of the current scope (AddScope comes
// first).
func (b *Batch) AddLogRecord(lr plog.LogRecord) {
	start := len(b.buf)
	b.buf = appendLogRecord(b.buf, lr)
	b.addRecord(start)
}

// addRecord adds the record encoded from start to Records at once: its bytes
// are final, and should b.buf move later, the record keeps referencing the
// array it was written in, which holds the same bytes. Slicing it here
// spares Finish a pass over every record.
func (b *Batch) addRecord(start int) {
	end := len(b.buf)
	b.Records = append(b.Records, b.buf[start:end:end])
	b.scopeOffs[len(b.scopeOffs)-1].end = len(b.Records)
}

// Finish fills Scopes (Records is filled as records are added).
func (b *Batch) Finish() {
	b.Scopes = b.Scopes[:0]
	buf := b.buf
	for _, s := range b.scopeOffs {
		b.Scopes = append(b.Scopes, Scope{
			Resource: buf[s.res[0]:s.res[1]:s.res[1]],
			Scope:    buf[s.scope[0]:s.scope[1]:s.scope[1]],
			First:    s.first,
			End:      s.end,

			ResourceIndex: s.resource,
		})
	}
}

// appendResourceHeader appends the fields of a ResourceSpans or
// ResourceLogs message other than its scopes: schema_url (3), resource (1).
func (b *Batch) appendResourceHeader(res pcommon.Resource, schemaURL string) [2]int {
	start := len(b.buf)
	b.buf = appendString(b.buf, 0x1a, schemaURL)
	var start1 int
	b.buf, start1 = openField(b.buf, 0x0a)
	// Resource: entity_refs (3), dropped_attributes_count (2), attributes (1).
	refs := entity.ResourceEntityRefs(res)
	for i := 0; i < refs.Len(); i++ {
		b.buf = appendEntityRef(b.buf, refs.At(i))
	}
	b.buf = appendUint32(b.buf, 0x10, res.DroppedAttributesCount())
	b.buf = appendAttributes(b.buf, 0x0a, res.Attributes())
	b.buf = closeField(b.buf, start1)
	return [2]int{start, len(b.buf)}
}

func appendEntityRef(dst []byte, r entity.EntityRef) []byte {
	var start int
	dst, start = openField(dst, 0x1a)
	// EntityRef: description_keys (4), id_keys (3), type (2), schema_url (1).
	for _, k := range r.DescriptionKeys().All() {
		dst = appendBytesField(dst, 0x22, k)
	}
	for _, k := range r.IdKeys().All() {
		dst = appendBytesField(dst, 0x1a, k)
	}
	dst = appendString(dst, 0x12, r.Type())
	dst = appendString(dst, 0x0a, r.SchemaUrl())
	return closeField(dst, start)
}

// appendScopeHeader appends the fields of a ScopeSpans or ScopeLogs
// message other than its records: schema_url (3), scope (1).
func (b *Batch) appendScopeHeader(sc pcommon.InstrumentationScope, schemaURL string) [2]int {
	start := len(b.buf)
	b.buf = appendString(b.buf, 0x1a, schemaURL)
	var start1 int
	b.buf, start1 = openField(b.buf, 0x0a)
	// InstrumentationScope: dropped_attributes_count (4), attributes (3),
	// version (2), name (1).
	b.buf = appendUint32(b.buf, 0x20, sc.DroppedAttributesCount())
	b.buf = appendAttributes(b.buf, 0x1a, sc.Attributes())
	b.buf = appendString(b.buf, 0x12, sc.Version())
	b.buf = appendString(b.buf, 0x0a, sc.Name())
	b.buf = closeField(b.buf, start1)
	return [2]int{start, len(b.buf)}
}

// appendSpan appends the fields of one Span message (without its own tag
// and length), highest field number first as pdata writes them.
func appendSpan(dst []byte, sp ptrace.Span) []byte {
	dst = appendStatus(dst, sp.Status())
	dst = appendUint32(dst, 0x70, sp.DroppedLinksCount())
	links := sp.Links()
	for i := 0; i < links.Len(); i++ {
		dst = appendLink(dst, links.At(i))
	}
	dst = appendUint32(dst, 0x60, sp.DroppedEventsCount())
	events := sp.Events()
	for i := 0; i < events.Len(); i++ {
		dst = appendEvent(dst, events.At(i))
	}
	dst = appendUint32(dst, 0x50, sp.DroppedAttributesCount())
	dst = appendAttributes(dst, 0x4a, sp.Attributes())
	dst = appendFixed64(dst, 0x41, uint64(sp.EndTimestamp()))
	dst = appendFixed64(dst, 0x39, uint64(sp.StartTimestamp()))
	if k := sp.Kind(); k != 0 {
		dst = append(dst, 0x30)
		dst = appendVarint(dst, uint64(int64(k)))
	}
	dst = appendString(dst, 0x2a, sp.Name())
	if f := sp.Flags(); f != 0 {
		dst = append(dst, 0x85, 0x01)
		dst = binary.LittleEndian.AppendUint32(dst, f)
	}
	dst = appendSpanID(dst, 0x22, sp.ParentSpanID())
	dst = appendString(dst, 0x1a, sp.TraceState().AsRaw())
	dst = appendSpanID(dst, 0x12, sp.SpanID())
	return appendTraceID(dst, 0x0a, sp.TraceID())
}

// appendStatus appends Status as field 15, always present.
func appendStatus(dst []byte, st ptrace.Status) []byte {
	var start int
	dst, start = openField(dst, 0x7a)
	if c := st.Code(); c != 0 {
		dst = append(dst, 0x18)
		dst = appendVarint(dst, uint64(int64(c)))
	}
	dst = appendString(dst, 0x12, st.Message())
	return closeField(dst, start)
}

func appendLink(dst []byte, l ptrace.SpanLink) []byte {
	var start int
	dst, start = openField(dst, 0x6a)
	if f := l.Flags(); f != 0 {
		dst = append(dst, 0x35)
		dst = binary.LittleEndian.AppendUint32(dst, f)
	}
	dst = appendUint32(dst, 0x28, l.DroppedAttributesCount())
	dst = appendAttributes(dst, 0x22, l.Attributes())
	dst = appendString(dst, 0x1a, l.TraceState().AsRaw())
	dst = appendSpanID(dst, 0x12, l.SpanID())
	dst = appendTraceID(dst, 0x0a, l.TraceID())
	return closeField(dst, start)
}

func appendEvent(dst []byte, e ptrace.SpanEvent) []byte {
	var start int
	dst, start = openField(dst, 0x5a)
	dst = appendUint32(dst, 0x20, e.DroppedAttributesCount())
	dst = appendAttributes(dst, 0x1a, e.Attributes())
	dst = appendString(dst, 0x12, e.Name())
	dst = appendFixed64(dst, 0x09, uint64(e.Timestamp()))
	return closeField(dst, start)
}

// appendLogRecord appends the fields of one LogRecord message (without its
// own tag and length), highest field number first as pdata writes them.
func appendLogRecord(dst []byte, lr plog.LogRecord) []byte {
	dst = appendString(dst, 0x62, lr.EventName())
	dst = appendSpanID(dst, 0x52, lr.SpanID())
	dst = appendTraceID(dst, 0x4a, lr.TraceID())
	if f := uint32(lr.Flags()); f != 0 {
		dst = append(dst, 0x45)
		dst = binary.LittleEndian.AppendUint32(dst, f)
	}
	dst = appendUint32(dst, 0x38, lr.DroppedAttributesCount())
	dst = appendAttributes(dst, 0x32, lr.Attributes())
	dst = appendAnyValue(dst, 0x2a, lr.Body())
	dst = appendString(dst, 0x1a, lr.SeverityText())
	if s := lr.SeverityNumber(); s != 0 {
		dst = append(dst, 0x10)
		dst = appendVarint(dst, uint64(int64(s)))
	}
	dst = appendFixed64(dst, 0x59, uint64(lr.ObservedTimestamp()))
	return appendFixed64(dst, 0x09, uint64(lr.Timestamp()))
}

// appendAttributes appends every entry of m, duplicates included, as a
// repeated KeyValue field.
func appendAttributes(dst []byte, tag byte, m pcommon.Map) []byte {
	for k, v := range m.All() {
		dst = appendKeyValue(dst, tag, k, v)
	}
	return dst
}

// appendKeyValue appends a KeyValue message: value (2), then key (1). The
// length of scalar values is computed up front; maps and slices are framed
// with openField/closeField.
func appendKeyValue(dst []byte, tag byte, k string, v pcommon.Value) []byte {
	keyLen := 0
	if len(k) > 0 {
		keyLen = 1 + sizeVarint(uint64(len(k))) + len(k)
	}
	// Str is one type assertion, Type a type switch: a non-empty string,
	// the common case, needs only the former.
	s := v.Str()
	typ := pcommon.ValueTypeStr
	if s == "" {
		typ = v.Type()
	}
	switch typ {
	case pcommon.ValueTypeStr:
		if kv := 4 + len(s) + keyLen; kv < 0x80 {
			// Every length fits one byte (the common case): the framing
			// is six bytes written at once.
			dst = append(dst, tag, byte(kv), 0x12, byte(2+len(s)), 0x0a, byte(len(s)))
			dst = append(dst, s...)
			if keyLen > 0 {
				dst = append(dst, 0x0a, byte(len(k)))
				dst = append(dst, k...)
			}
			return dst
		}
		vn := 1 + sizeVarint(uint64(len(s))) + len(s)
		dst = append(dst, tag)
		dst = appendVarint(dst, uint64(1+sizeVarint(uint64(vn))+vn+keyLen))
		dst = append(dst, 0x12)
		dst = appendVarint(dst, uint64(vn))
		dst = append(dst, 0x0a)
		dst = appendVarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		var start int
		dst, start = openField(dst, tag)
		dst = appendAnyValue(dst, 0x12, v)
		dst = appendString(dst, 0x0a, k)
		return closeField(dst, start)
	default:
		vn := scalarValueSize(typ, v)
		if kv := 2 + vn + keyLen; kv < 0x80 {
			dst = append(dst, tag, byte(kv), 0x12, byte(vn))
		} else {
			dst = append(dst, tag)
			dst = appendVarint(dst, uint64(1+sizeVarint(uint64(vn))+vn+keyLen))
			dst = append(dst, 0x12)
			dst = appendVarint(dst, uint64(vn))
		}
		dst = appendScalarValue(dst, typ, v)
	}
	if keyLen > 0 {
		dst = appendBytesField(dst, 0x0a, k)
	}
	return dst
}

// appendAnyValue appends v as an AnyValue message field, always present
// (an empty value has length 0).
func appendAnyValue(dst []byte, tag byte, v pcommon.Value) []byte {
	typ := v.Type()
	var start, inner int
	switch typ {
	case pcommon.ValueTypeMap:
		dst, start = openField(dst, tag)
		if m := v.Map(); m != (pcommon.Map{}) {
			dst, inner = openField(dst, 0x32)
			for k, e := range m.All() {
				dst = appendKeyValue(dst, 0x0a, k, e)
			}
			dst = closeField(dst, inner)
		}
		return closeField(dst, start)
	case pcommon.ValueTypeSlice:
		dst, start = openField(dst, tag)
		if s := v.Slice(); s != (pcommon.Slice{}) {
			dst, inner = openField(dst, 0x2a)
			for _, e := range s.All() {
				dst = appendAnyValue(dst, 0x0a, e)
			}
			dst = closeField(dst, inner)
		}
		return closeField(dst, start)
	}
	vn := scalarValueSize(typ, v)
	dst = append(dst, tag)
	dst = appendVarint(dst, uint64(vn))
	return appendScalarValue(dst, typ, v)
}

// scalarValueSize is the size of an AnyValue message holding a value that
// is neither a map nor a slice.
func scalarValueSize(typ pcommon.ValueType, v pcommon.Value) int {
	switch typ {
	case pcommon.ValueTypeStr:
		n := len(v.Str())
		return 1 + sizeVarint(uint64(n)) + n
	case pcommon.ValueTypeBool:
		return 2
	case pcommon.ValueTypeInt:
		return 1 + sizeVarint(uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		return 9
	case pcommon.ValueTypeBytes:
		n := v.Bytes().Len()
		return 1 + sizeVarint(uint64(n)) + n
	}
	return 0
}

func appendScalarValue(dst []byte, typ pcommon.ValueType, v pcommon.Value) []byte {
	switch typ {
	case pcommon.ValueTypeStr:
		s := v.Str()
		dst = append(dst, 0x0a)
		dst = appendVarint(dst, uint64(len(s)))
		return append(dst, s...)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return append(dst, 0x10, 1)
		}
		return append(dst, 0x10, 0)
	case pcommon.ValueTypeInt:
		dst = append(dst, 0x18)
		return appendVarint(dst, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		dst = append(dst, 0x21)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBytes:
		bs := v.Bytes()
		dst = append(dst, 0x3a)
		dst = appendVarint(dst, uint64(bs.Len()))
		for _, c := range bs.All() {
			dst = append(dst, c)
		}
		return dst
	}
	return dst
}

// appendString appends a string field unless it is empty (proto3 default).
func appendString(dst []byte, tag byte, s string) []byte {
	if s == "" {
		return dst
	}
	return appendBytesField(dst, tag, s)
}

// appendBytesField appends a length-delimited field, even when empty.
func appendBytesField(dst []byte, tag byte, s string) []byte {
	if len(s) < 0x80 {
		dst = append(dst, tag, byte(len(s)))
	} else {
		dst = append(dst, tag)
		dst = protowire.AppendVarint(dst, uint64(len(s)))
	}
	return append(dst, s...)
}

func appendUint32(dst []byte, tag byte, v uint32) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, tag)
	return appendVarint(dst, uint64(v))
}

func appendFixed64(dst []byte, tag byte, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, tag)
	return binary.LittleEndian.AppendUint64(dst, v)
}

// appendTraceID appends a trace id field, always present, empty when the id
// is all zeros (as pdata writes it).
func appendTraceID(dst []byte, tag byte, id pcommon.TraceID) []byte {
	if id.IsEmpty() {
		return append(dst, tag, 0)
	}
	dst = append(dst, tag, 16)
	return append(dst, id[:]...)
}

func appendSpanID(dst []byte, tag byte, id pcommon.SpanID) []byte {
	if id.IsEmpty() {
		return append(dst, tag, 0)
	}
	dst = append(dst, tag, 8)
	return append(dst, id[:]...)
}

// openField starts a length-delimited field whose length is not known yet:
// it appends the tag and a one-byte length placeholder and returns where the
// payload starts. closeField fills the length in.
func openField(dst []byte, tag byte) ([]byte, int) {
	dst = append(dst, tag, 0)
	return dst, len(dst)
}

// closeField writes the length of the payload started at start. Payloads of
// 128 bytes or more need a longer varint: the payload moves up to make room.
func closeField(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	extra := sizeVarint(uint64(n)) - 1
	for range extra {
		dst = append(dst, 0)
	}
	copy(dst[start+extra:], dst[start:start+n])
	appendVarint(dst[:start-1], uint64(n))
	return dst
}

// appendVarint and sizeVarint inline the one-byte case, which is nearly
// every length and enum in a span.
func appendVarint(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	return protowire.AppendVarint(dst, v)
}

func sizeVarint(v uint64) int {
	if v < 0x80 {
		return 1
	}
	return protowire.SizeVarint(v)
}
