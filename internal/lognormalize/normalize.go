package lognormalize

import (
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson/fastfloat"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/validutf8"
)

// ErrNotObject is returned (wrapped) when a document is valid JSON but not an
// object; callers reading lines may then treat the line as plain text.
var ErrNotObject = errors.New("JSON document is not an object")

// maxInternedKeys bounds the attribute-key intern table so a stream with
// unbounded key cardinality cannot grow it forever.
const maxInternedKeys = 4096

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
	node   int32 // tape index of the value; 0 (the document itself) = none
	parent int32 // tape index of the container object holding it, 0 at top level
	rank   int
	ns     int64 // timestamp
	sev    plog.SeverityNumber
	id     [16]byte // trace id, or span id in the first 8 bytes
}

// Normalizer converts JSON documents into log records. It keeps a reusable
// tape and a key intern table, so reuse one per goroutine (it is not safe
// for concurrent use; pool them with sync.Pool if needed).
type Normalizer struct {
	tape tape
	keys map[string]string
	// recentKeys caches interned keys by a cheap hash of their bytes, in
	// front of keys: a document's dozen keys are found without hashing each.
	recentKeys [recentKeySlots]string
	// values holds the bytes of string values handed out since the current
	// chunk began: one allocation per valueChunk bytes rather than one per
	// value.
	values []byte
	// Unescaping buffers: a container's key stays in use while its
	// children's keys and values are read.
	keyScratch, childKeyScratch, valueScratch []byte
	scratch                                   []byte
	cands                                     [numRoles]candidate
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
	t := &n.tape
	if err := t.scan(doc); err != nil {
		return Result{}, fmt.Errorf("parse JSON document: %w", err)
	}
	nodes := t.nodes
	root := nodes[0]
	if root.kind != kindObject {
		return Result{}, fmt.Errorf("%w (found %s)", ErrNotObject, root.kind)
	}

	n.cands = [numRoles]candidate{}
	for i := int32(1); i < root.next; i = nodes[i].next {
		m := &nodes[i]
		k := t.key(m, &n.keyScratch)
		if m.kind == kindObject && isContainer(k) {
			for j := i + 1; j < m.next; j = nodes[j].next {
				if r, rank := classifyNested(k, t.key(&nodes[j], &n.childKeyScratch)); r != roleNone {
					n.consider(r, rank, j, i)
				}
			}
			continue
		}
		if r, rank := classifyTop(k); r != roleNone {
			n.consider(r, rank, i, 0)
		}
	}

	attrs := lr.Attributes()
	attrs.EnsureCapacity(attrs.Len() + int(root.count))
	for i := int32(1); i < root.next; i = nodes[i].next {
		if n.chosen(i) {
			continue
		}
		if nodes[i].kind == kindObject && n.isParent(i) {
			n.putContainerRest(attrs, i)
			continue
		}
		n.setValue(attrs.PutEmpty(n.memberKey(i)), i)
	}

	var res Result
	if c := &n.cands[roleTimestamp]; c.node != 0 {
		lr.SetTimestamp(pcommon.Timestamp(c.ns))
		res.HasTimestamp = true
	}
	if c := &n.cands[roleSeverity]; c.node != 0 {
		lr.SetSeverityNumber(c.sev)
		lr.SetSeverityText(n.text(c.node))
		res.HasSeverity = true
	}
	if c := &n.cands[roleBody]; c.node != 0 {
		n.setValue(lr.Body(), c.node)
		res.HasBody = true
	}
	if c := &n.cands[roleTraceID]; c.node != 0 {
		lr.SetTraceID(c.id)
	}
	if c := &n.cands[roleSpanID]; c.node != 0 {
		lr.SetSpanID(pcommon.SpanID(c.id[:8]))
	}
	if c := &n.cands[roleService]; c.node != 0 {
		resource.PutStr(AttrServiceName, n.text(c.node))
		res.HasService = true
	}
	n.putRenamed(attrs, AttrRequestID, &n.cands[roleRequestID])
	n.putRenamed(attrs, AttrCorrelationID, &n.cands[roleCorrelationID])
	n.trimScratch()
	return res, nil
}

// maxRetainedScratch bounds each unescaping buffer kept between documents.
const maxRetainedScratch = 64 << 10

// trimScratch lets go of buffers a rare huge value grew.
func (n *Normalizer) trimScratch() {
	for _, b := range []*[]byte{&n.keyScratch, &n.childKeyScratch, &n.valueScratch, &n.scratch} {
		if cap(*b) > maxRetainedScratch {
			*b = nil
		}
	}
}

// putRenamed stores a correlation id under its canonical name, or under its
// own key when the canonical key is already taken by another (unusable) value.
func (n *Normalizer) putRenamed(attrs pcommon.Map, canonical string, c *candidate) {
	if c.node == 0 {
		return
	}
	if _, taken := attrs.Get(canonical); taken {
		canonical = n.memberKey(c.node)
	}
	n.setValue(attrs.PutEmpty(canonical), c.node)
}

// consider records node i for role r when it outranks the current candidate
// and can be interpreted; otherwise it stays an ordinary attribute.
func (n *Normalizer) consider(r role, rank int, i, parent int32) {
	c := &n.cands[r]
	if c.node != 0 && c.rank <= rank {
		return
	}
	next := candidate{node: i, parent: parent, rank: rank}
	t := &n.tape
	v := &t.nodes[i]
	switch r {
	case roleTimestamp:
		var ok bool
		switch v.kind {
		case kindString:
			next.ns, ok = ParseTimestampString(b2s(t.str(v, &n.valueScratch)))
		case kindNumber:
			next.ns, ok = epochNumber(b2s(t.raw(v)))
		}
		if !ok {
			return
		}
	case roleSeverity:
		switch v.kind {
		case kindString:
			sb := t.str(v, &n.valueScratch)
			if len(sb) == 0 {
				return
			}
			next.sev = SeverityFromText(b2s(sb))
		case kindNumber:
			i, err := fastfloat.ParseInt64(b2s(t.raw(v)))
			if err != nil {
				return
			}
			next.sev = SeverityFromNumber(i)
		default:
			return
		}
	case roleBody:
		if v.kind == kindNull || (v.kind == kindObject && rank == 2) {
			return
		}
	case roleTraceID:
		if v.kind != kindString {
			return
		}
		id, ok := parseTraceID(t.str(v, &n.valueScratch))
		if !ok {
			return
		}
		next.id = id
	case roleSpanID:
		if v.kind != kindString {
			return
		}
		id, ok := parseSpanID(t.str(v, &n.valueScratch))
		if !ok {
			return
		}
		copy(next.id[:], id[:])
	case roleService:
		if v.kind != kindString || v.start == v.end {
			return
		}
	case roleRequestID, roleCorrelationID:
		if v.kind != kindString && v.kind != kindNumber {
			return
		}
	}
	*c = next
}

func (n *Normalizer) chosen(i int32) bool {
	for j := range n.cands {
		if n.cands[j].node == i {
			return true
		}
	}
	return false
}

func (n *Normalizer) isParent(i int32) bool {
	for j := range n.cands {
		if n.cands[j].node != 0 && n.cands[j].parent == i {
			return true
		}
	}
	return false
}

// putContainerRest keeps the children of container object i that were not
// lifted into record fields, under the container's key; nothing if none remain.
func (n *Normalizer) putContainerRest(attrs pcommon.Map, i int32) {
	nodes := n.tape.nodes
	var rest pcommon.Map
	made := false
	for j := i + 1; j < nodes[i].next; j = nodes[j].next {
		if n.chosen(j) {
			continue
		}
		if !made {
			rest = attrs.PutEmptyMap(n.memberKey(i))
			made = true
		}
		n.setValue(rest.PutEmpty(n.memberKey(j)), j)
	}
}

// setValue converts the JSON value at tape index i into dst, keeping its type.
func (n *Normalizer) setValue(dst pcommon.Value, i int32) {
	nodes := n.tape.nodes
	v := &nodes[i]
	switch v.kind {
	case kindString:
		dst.SetStr(n.stringValue(v))
	case kindNumber:
		setNumber(dst, b2s(n.tape.raw(v)))
	case kindTrue:
		dst.SetBool(true)
	case kindFalse:
		dst.SetBool(false)
	case kindObject:
		m := dst.SetEmptyMap()
		m.EnsureCapacity(int(v.count))
		for j := i + 1; j < v.next; j = nodes[j].next {
			n.setValue(m.PutEmpty(n.memberKey(j)), j)
		}
	case kindArray:
		s := dst.SetEmptySlice()
		s.EnsureCapacity(int(v.count))
		for j := i + 1; j < v.next; j = nodes[j].next {
			n.setValue(s.AppendEmpty(), j)
		}
	default: // null stays an empty value
	}
}

// setNumber keeps integers as Int and everything else as Double.
func setNumber(dst pcommon.Value, raw string) {
	if isInteger(raw) {
		if i, err := fastfloat.ParseInt64(raw); err == nil {
			dst.SetInt(i)
			return
		}
	}
	dst.SetDouble(fastfloat.ParseBestEffort(raw))
}

func epochNumber(raw string) (int64, bool) {
	if isInteger(raw) {
		if i, err := fastfloat.ParseInt64(raw); err == nil {
			return epochIntToUnixNano(i)
		}
	}
	return EpochToUnixNano(fastfloat.ParseBestEffort(raw))
}

// text returns a string or number value as text (for severity, service).
func (n *Normalizer) text(i int32) string {
	v := &n.tape.nodes[i]
	if v.kind == kindString {
		return n.stringValue(v)
	}
	return string(n.tape.raw(v))
}

// memberKey returns the interned key of object member i.
func (n *Normalizer) memberKey(i int32) string {
	return n.key(n.tape.key(&n.tape.nodes[i], &n.keyScratch))
}

// stringValue returns string node v as a record value: unescaped, and
// checked for UTF-8 only when it holds non-ASCII bytes.
func (n *Normalizer) stringValue(v *node) string {
	b := n.tape.str(v, &n.valueScratch)
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxChunkedValue || (v.flags&flagNonASCII != 0 && !utf8.Valid(b)) {
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

// validString copies b into a string, replacing invalid UTF-8 with U+FFFD.
func validString(b []byte, scratch *[]byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	buf := validutf8.Append((*scratch)[:0], b2s(b))
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
