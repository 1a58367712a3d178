package lognormalize

import (
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
	"github.com/valyala/fastjson/fastfloat"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// ErrNotObject is returned (wrapped) when a document is valid JSON but not an
// object; callers reading lines may then treat the line as plain text.
var ErrNotObject = errors.New("JSON document is not an object")

// maxInternedKeys bounds the attribute-key intern table so a stream with
// unbounded key cardinality cannot grow it forever.
const maxInternedKeys = 4096

// maxErrorInput bounds how much of a malformed document an error quotes.
const maxErrorInput = 128

// Result reports which record fields a document supplied, so callers can
// fill the rest (e.g. use the observed time when there was no timestamp).
type Result struct {
	// HasTimestamp is true when Timestamp was set from the document.
	HasTimestamp bool
	// HasSeverity is true when SeverityText/SeverityNumber were set.
	HasSeverity bool
	// HasBody is true when Body was set.
	HasBody bool
	// HasService is true when service.name was written to the resource.
	HasService bool
}

// candidate is the best-ranked document value found so far for one role.
type candidate struct {
	v      *fastjson.Value
	key    []byte          // the document key v was found under
	parent *fastjson.Value // container object holding v, nil at top level
	rank   int
	ns     int64 // timestamp
	sev    plog.SeverityNumber
	id     [16]byte // trace id, or span id in the first 8 bytes
}

// Normalizer converts JSON documents into log records. It keeps a reusable
// parser and a key intern table, so reuse one per goroutine (it is not safe
// for concurrent use; pool them with sync.Pool if needed).
type Normalizer struct {
	parser fastjson.Parser
	keys   map[string]string
	// recentKeys caches interned keys by a cheap hash of their bytes, in
	// front of keys: a document's dozen keys are found without hashing each.
	recentKeys [recentKeySlots]string
	// values holds the bytes of string values handed out since the current
	// chunk began: one allocation per valueChunk bytes rather than one per
	// value.
	values  []byte
	scratch []byte
	cands   [numRoles]candidate
}

const (
	recentKeySlots = 256
	// valueChunk is the size of the blocks string values are cut from. A
	// value kept after its record is gone keeps its block alive: small
	// blocks bound that, while still making allocations ~20 times rarer.
	valueChunk = 8 << 10
	// maxChunkedValue is the longest value cut from a block; longer ones
	// get an allocation of their own.
	maxChunkedValue = 1 << 10
)

// New returns a Normalizer.
func New() *Normalizer {
	return &Normalizer{keys: make(map[string]string, 64)}
}

// Normalize parses doc, which must hold one JSON object, and writes it into lr
// and resource:
//   - lr's Timestamp, SeverityText/SeverityNumber, Body, TraceID and SpanID
//     from the well-known fields listed in the package documentation;
//   - every other field into lr.Attributes() (existing keys are overwritten);
//   - service.name into resource (the caller groups records by resource).
//
// ObservedTimestamp is left to the caller. On error lr and resource are left
// unchanged. doc is not retained after Normalize returns.
func (n *Normalizer) Normalize(doc []byte, lr plog.LogRecord, resource pcommon.Map) (Result, error) {
	v, err := n.parser.ParseBytes(doc)
	if err != nil {
		return Result{}, fmt.Errorf("parse JSON document: %s", truncate(err.Error()))
	}
	obj, err := v.Object()
	if err != nil {
		return Result{}, fmt.Errorf("%w (found %s)", ErrNotObject, v.Type())
	}

	n.cands = [numRoles]candidate{}
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if v.Type() == fastjson.TypeObject && isContainer(k) {
			child, _ := v.Object()
			child.Visit(func(ck []byte, cv *fastjson.Value) {
				if r, rank := classifyNested(k, ck); r != roleNone {
					n.consider(r, rank, ck, cv, v)
				}
			})
			return
		}
		if r, rank := classifyTop(k); r != roleNone {
			n.consider(r, rank, k, v, nil)
		}
	})

	attrs := lr.Attributes()
	attrs.EnsureCapacity(attrs.Len() + obj.Len())
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if n.chosen(v) {
			return
		}
		if v.Type() == fastjson.TypeObject && n.isParent(v) {
			n.putContainerRest(attrs, k, v)
			return
		}
		n.setValue(attrs.PutEmpty(n.key(k)), v)
	})

	var res Result
	if c := &n.cands[roleTimestamp]; c.v != nil {
		lr.SetTimestamp(pcommon.Timestamp(c.ns))
		res.HasTimestamp = true
	}
	if c := &n.cands[roleSeverity]; c.v != nil {
		lr.SetSeverityNumber(c.sev)
		lr.SetSeverityText(n.text(c.v))
		res.HasSeverity = true
	}
	if c := &n.cands[roleBody]; c.v != nil {
		n.setValue(lr.Body(), c.v)
		res.HasBody = true
	}
	if c := &n.cands[roleTraceID]; c.v != nil {
		lr.SetTraceID(c.id)
	}
	if c := &n.cands[roleSpanID]; c.v != nil {
		lr.SetSpanID(pcommon.SpanID(c.id[:8]))
	}
	if c := &n.cands[roleService]; c.v != nil {
		resource.PutStr(AttrServiceName, n.text(c.v))
		res.HasService = true
	}
	n.putRenamed(attrs, AttrRequestID, &n.cands[roleRequestID])
	n.putRenamed(attrs, AttrCorrelationID, &n.cands[roleCorrelationID])
	return res, nil
}

// putRenamed stores a correlation id under its canonical name, or under its
// own key when the canonical key is already taken by another (unusable) value.
func (n *Normalizer) putRenamed(attrs pcommon.Map, canonical string, c *candidate) {
	if c.v == nil {
		return
	}
	if _, taken := attrs.Get(canonical); taken {
		canonical = n.key(c.key)
	}
	n.setValue(attrs.PutEmpty(canonical), c.v)
}

// consider records v for role r when it outranks the current candidate and
// can be interpreted; otherwise v stays an ordinary attribute.
func (n *Normalizer) consider(r role, rank int, key []byte, v, parent *fastjson.Value) {
	c := &n.cands[r]
	if c.v != nil && c.rank <= rank {
		return
	}
	next := candidate{v: v, key: key, parent: parent, rank: rank}
	t := v.Type()
	switch r {
	case roleTimestamp:
		var ok bool
		switch t {
		case fastjson.TypeString:
			next.ns, ok = ParseTimestampString(b2s(v.GetStringBytes()))
		case fastjson.TypeNumber:
			next.ns, ok = n.epochNumber(v)
		}
		if !ok {
			return
		}
	case roleSeverity:
		switch t {
		case fastjson.TypeString:
			sb := v.GetStringBytes()
			if len(sb) == 0 {
				return
			}
			next.sev = SeverityFromText(b2s(sb))
		case fastjson.TypeNumber:
			i, err := v.Int64()
			if err != nil {
				return
			}
			next.sev = SeverityFromNumber(i)
		default:
			return
		}
	case roleBody:
		if t == fastjson.TypeNull || (t == fastjson.TypeObject && rank == 2) {
			return
		}
	case roleTraceID:
		id, ok := parseTraceID(v.GetStringBytes())
		if !ok {
			return
		}
		next.id = id
	case roleSpanID:
		id, ok := parseSpanID(v.GetStringBytes())
		if !ok {
			return
		}
		copy(next.id[:], id[:])
	case roleService:
		if t != fastjson.TypeString || len(v.GetStringBytes()) == 0 {
			return
		}
	case roleRequestID, roleCorrelationID:
		if t != fastjson.TypeString && t != fastjson.TypeNumber {
			return
		}
	}
	*c = next
}

func (n *Normalizer) chosen(v *fastjson.Value) bool {
	for i := range n.cands {
		if n.cands[i].v == v {
			return true
		}
	}
	return false
}

func (n *Normalizer) isParent(v *fastjson.Value) bool {
	for i := range n.cands {
		if n.cands[i].v != nil && n.cands[i].parent == v {
			return true
		}
	}
	return false
}

// putContainerRest keeps the children of a container object that were not
// lifted into record fields, under the container's key; nothing if none remain.
func (n *Normalizer) putContainerRest(attrs pcommon.Map, k []byte, v *fastjson.Value) {
	o, _ := v.Object()
	var rest pcommon.Map
	made := false
	o.Visit(func(ck []byte, cv *fastjson.Value) {
		if n.chosen(cv) {
			return
		}
		if !made {
			rest = attrs.PutEmptyMap(n.key(k))
			made = true
		}
		n.setValue(rest.PutEmpty(n.key(ck)), cv)
	})
}

// setValue converts a JSON value into dst, keeping its type.
func (n *Normalizer) setValue(dst pcommon.Value, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		dst.SetStr(n.str(v.GetStringBytes()))
	case fastjson.TypeNumber:
		n.setNumber(dst, v)
	case fastjson.TypeTrue:
		dst.SetBool(true)
	case fastjson.TypeFalse:
		dst.SetBool(false)
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := dst.SetEmptyMap()
		m.EnsureCapacity(o.Len())
		o.Visit(func(k []byte, cv *fastjson.Value) {
			n.setValue(m.PutEmpty(n.key(k)), cv)
		})
	case fastjson.TypeArray:
		arr, _ := v.Array()
		s := dst.SetEmptySlice()
		s.EnsureCapacity(len(arr))
		for _, cv := range arr {
			n.setValue(s.AppendEmpty(), cv)
		}
	default: // null stays an empty value
	}
}

// setNumber keeps integers as Int and everything else as Double.
func (n *Normalizer) setNumber(dst pcommon.Value, v *fastjson.Value) {
	n.scratch = v.MarshalTo(n.scratch[:0])
	raw := b2s(n.scratch)
	if isInteger(raw) {
		if i, err := fastfloat.ParseInt64(raw); err == nil {
			dst.SetInt(i)
			return
		}
	}
	dst.SetDouble(fastfloat.ParseBestEffort(raw))
}

func (n *Normalizer) epochNumber(v *fastjson.Value) (int64, bool) {
	n.scratch = v.MarshalTo(n.scratch[:0])
	raw := b2s(n.scratch)
	if isInteger(raw) {
		if i, err := fastfloat.ParseInt64(raw); err == nil {
			return epochIntToUnixNano(i)
		}
	}
	return EpochToUnixNano(fastfloat.ParseBestEffort(raw))
}

// text returns a string or number value as text (for severity, service).
func (n *Normalizer) text(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeString {
		return n.str(v.GetStringBytes())
	}
	n.scratch = v.MarshalTo(n.scratch[:0])
	return string(n.scratch)
}

// key interns attribute keys: documents of one stream repeat the same keys.
func (n *Normalizer) key(k []byte) string {
	slot := &n.recentKeys[recentKeySlot(k)]
	if *slot == string(k) && len(k) > 0 {
		return *slot
	}
	s, ok := n.keys[string(k)]
	if !ok {
		// Not cut from a value block: an interned key lives as long as the
		// Normalizer.
		s = validString(k, &n.scratch)
		if len(n.keys) < maxInternedKeys {
			n.keys[s] = s
		}
	}
	*slot = s
	return s
}

func recentKeySlot(k []byte) int {
	if len(k) == 0 {
		return 0
	}
	return (len(k)*31 + int(k[0])*7 + int(k[len(k)-1])*3 + int(k[len(k)/2])) % recentKeySlots
}

// str returns b as a string for a record value, replacing invalid UTF-8
// (OTLP requires UTF-8). Short values are cut from a shared block.
func (n *Normalizer) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxChunkedValue || !utf8.Valid(b) {
		return validString(b, &n.scratch)
	}
	if cap(n.values)-len(n.values) < len(b) {
		n.values = make([]byte, 0, valueChunk)
	}
	start := len(n.values)
	// Only ever appended to: bytes handed out as a string never change.
	n.values = append(n.values, b...)
	return unsafe.String(&n.values[start], len(b))
}

// validString copies b into a string, replacing invalid UTF-8 with U+FFFD.
func validString(b []byte, scratch *[]byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	buf := (*scratch)[:0]
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		buf = utf8.AppendRune(buf, r) // RuneError for invalid bytes
		b = b[size:]
	}
	*scratch = buf
	return string(buf)
}

func isInteger(s string) bool {
	if s == "" {
		return false
	}
	start := 0
	if s[0] == '-' {
		start = 1
	}
	if start == len(s) {
		return false
	}
	for i := start; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTraceID accepts 32 hex digits, or 16 (a 64-bit id, left-padded with
// zeros as OpenTelemetry does for Jaeger/Zipkin ids); all-zero ids are invalid.
func parseTraceID(b []byte) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	switch len(b) {
	case 32:
		if _, err := hex.Decode(id[:], b); err != nil {
			return pcommon.TraceID{}, false
		}
	case 16:
		if _, err := hex.Decode(id[8:], b); err != nil {
			return pcommon.TraceID{}, false
		}
	default:
		return id, false
	}
	return id, !id.IsEmpty()
}

// parseSpanID accepts 16 hex digits; an all-zero id is invalid.
func parseSpanID(b []byte) (pcommon.SpanID, bool) {
	var id pcommon.SpanID
	if len(b) != 16 {
		return id, false
	}
	if _, err := hex.Decode(id[:], b); err != nil {
		return pcommon.SpanID{}, false
	}
	return id, !id.IsEmpty()
}

// b2s views b as a string without copying; only for calls that do not keep it.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func truncate(s string) string {
	if len(s) <= maxErrorInput {
		return s
	}
	return s[:maxErrorInput] + "…"
}
