package lognormalize

// The fastjson-based Normalizer this package used before its own scanner,
// kept as the reference its replacement is checked against
// (FuzzNormalizeMatchesReference): same documents in, same records out.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/valyala/fastjson"
	"github.com/valyala/fastjson/fastfloat"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// refCandidate is the best-ranked document value found so far for one role.
type refCandidate struct {
	v      *fastjson.Value
	key    []byte          // the document key v was found under
	parent *fastjson.Value // container object holding v, nil at top level
	rank   int
	ns     int64 // timestamp
	sev    plog.SeverityNumber
	id     [16]byte // trace id, or span id in the first 8 bytes
}

// refNormalizer is the former Normalizer, without its caches (keys and
// values are plain copies).
type refNormalizer struct {
	parser  fastjson.Parser
	scratch []byte
	cands   [numRoles]refCandidate
}

func newReference() *refNormalizer { return &refNormalizer{} }

// Normalize parses doc, which must hold one JSON object, and writes it into lr
// and resource:
//   - lr's Timestamp, SeverityText/SeverityNumber, Body, TraceID and SpanID
//     from the well-known fields listed in the package documentation;
//   - every other field into lr.Attributes() (existing keys are overwritten);
//   - service.name into resource (the caller groups records by resource).
//
// ObservedTimestamp is left to the caller. On error lr and resource are left
// unchanged. doc is not retained after Normalize returns.
func (n *refNormalizer) Normalize(doc []byte, lr plog.LogRecord, resource pcommon.Map) (Result, error) {
	v, err := n.parser.ParseBytes(doc)
	if err != nil {
		return Result{}, fmt.Errorf("parse JSON document: %w", err)
	}
	obj, err := v.Object()
	if err != nil {
		return Result{}, fmt.Errorf("%w (found %s)", ErrNotObject, v.Type())
	}

	n.cands = [numRoles]refCandidate{}
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
func (n *refNormalizer) putRenamed(attrs pcommon.Map, canonical string, c *refCandidate) {
	if c.v == nil {
		return
	}
	if _, taken := attrs.Get(canonical); taken {
		canonical = n.key(c.key)
	}
	n.setValue(attrs.PutEmpty(canonical), c.v)
}

// consider records v for role r when it outranks the current refCandidate and
// can be interpreted; otherwise v stays an ordinary attribute.
func (n *refNormalizer) consider(r role, rank int, key []byte, v, parent *fastjson.Value) {
	c := &n.cands[r]
	if c.v != nil && c.rank <= rank {
		return
	}
	next := refCandidate{v: v, key: key, parent: parent, rank: rank}
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

func (n *refNormalizer) chosen(v *fastjson.Value) bool {
	for i := range n.cands {
		if n.cands[i].v == v {
			return true
		}
	}
	return false
}

func (n *refNormalizer) isParent(v *fastjson.Value) bool {
	for i := range n.cands {
		if n.cands[i].v != nil && n.cands[i].parent == v {
			return true
		}
	}
	return false
}

// putContainerRest keeps the children of a container object that were not
// lifted into record fields, under the container's key; nothing if none remain.
func (n *refNormalizer) putContainerRest(attrs pcommon.Map, k []byte, v *fastjson.Value) {
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
func (n *refNormalizer) setValue(dst pcommon.Value, v *fastjson.Value) {
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
func (n *refNormalizer) setNumber(dst pcommon.Value, v *fastjson.Value) {
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

func (n *refNormalizer) epochNumber(v *fastjson.Value) (int64, bool) {
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
func (n *refNormalizer) text(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeString {
		return n.str(v.GetStringBytes())
	}
	n.scratch = v.MarshalTo(n.scratch[:0])
	return string(n.scratch)
}

func (n *refNormalizer) key(k []byte) string { return validString(k, &n.scratch) }

func (n *refNormalizer) str(b []byte) string { return validString(b, &n.scratch) }

// FuzzNormalizeMatchesReference checks the scanner-based Normalizer against
// the fastjson-based one it replaced: where both accept a document they must
// produce the same record and resource, byte for byte. They may disagree on
// acceptance only where the grammars differ on purpose: fastjson took
// malformed numbers ("1.2.3", "01", "+1", "1e") and this package does not;
// this package takes Infinity and nesting deeper than fastjson's 300 levels.
func FuzzNormalizeMatchesReference(f *testing.F) {
	for _, s := range referenceSeeds {
		f.Add([]byte(s))
	}
	n, ref := New(), newReference()
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, gotErr := normalizeTo(n, doc)
		want, wantErr := normalizeTo(ref, doc)
		switch {
		case gotErr != nil && wantErr == nil:
			if json.Valid(doc) {
				t.Fatalf("valid JSON rejected (the reference took it): %v", gotErr)
			}
			return
		case gotErr == nil && wantErr != nil:
			if !bytes.Contains(doc, []byte("Infinity")) && nesting(doc) <= 300 {
				t.Fatalf("accepted a document the reference rejected (%v)", wantErr)
			}
			return
		case gotErr != nil:
			// "00" is a number to fastjson and malformed here.
			if json.Valid(doc) && errors.Is(wantErr, ErrNotObject) != errors.Is(gotErr, ErrNotObject) {
				t.Fatalf("ErrNotObject differs: got %v, reference %v", gotErr, wantErr)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record differs from the reference's:\n got %s\nwant %s", logsJSON(t, got), logsJSON(t, want))
		}
	})
}

// referenceSeeds cover the escapes, numbers and field spellings where the
// two parsers could part ways.
var referenceSeeds = []string{
	benchDoc,
	`{"@timestamp":"2024-05-01T10:20:30.123Z","log":{"level":"warn","origin":"x"},"message":"m","service":{"name":"s","v":1}}`,
	`{"ts":1714558830.5,"level":30,"msg":"x","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`,
	`{"time":"2024-05-01 10:20:30,5","a":{"b":[1,{"c":null}],"d":[]},"requestId":7,"e":{}}`,
	`{"log":"line\n","stream":"stderr","time":"1714558830123"}`,
	`{"m\u00e9ssage":"caf\u00e9 \ud83d\ude00 \ud83d x \udc00\u0041 \q \/ \b\f\n\r\t \"\\","k\"ey":"v"}`,
	"{\"bad\":\"a\xffb\",\"u\":\"\xe2\x82\",\"\xff\":\"\xfe\",\"ctl\":\"a\tb\"}",
	`{"n":-0.0e-5,"big":123456789012345678901234567890,"i":-12,"f":1E+2,"z":0,"nan":NaN}`,
	`{"level":"info","level":"warn","message":1,"msg":"two","request_id":"r1","request.id":{"x":1}}`,
	`{"severity":5,"PRIORITY":"3","MESSAGE":"journald","app":"a","service":"b","serviceName":""}`,
	`{"trace":{"id":"0000000000000000"},"span":{"id":"zz"},"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
	`{"correlation_id":7.5,"correlationId":"c","x_request_id":true}`,
	` {"a" : [ 1 , "2" , true , false , null ] } `,
	`[1]`, `"text"`, `{"a":`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":+1}`, `{"a":1.2.3}`, `{"a":-}`,
	`{"a":Infinity,"b":-Infinity}`, `{"a":tru}`, `{"a":nul}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":"x`, "{\"a\":\"\\",
}

// normalizeTo runs one Normalize and returns the record with its resource,
// as OTLP bytes.
func normalizeTo(n interface {
	Normalize([]byte, plog.LogRecord, pcommon.Map) (Result, error)
}, doc []byte,
) ([]byte, error) {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	if _, err := n.Normalize(doc, lr, rl.Resource().Attributes()); err != nil {
		return nil, err
	}
	var m plog.ProtoMarshaler
	return m.MarshalLogs(logs)
}

func logsJSON(t *testing.T, b []byte) string {
	var u plog.ProtoUnmarshaler
	logs, err := u.UnmarshalLogs(b)
	if err != nil {
		t.Fatal(err)
	}
	var m plog.JSONMarshaler
	j, err := m.MarshalLogs(logs)
	if err != nil {
		return fmt.Sprintf("%x (%v)", b, err)
	}
	return string(j)
}

// nesting is the document's deepest nesting of objects and arrays, counting
// brackets inside strings too (an over-estimate is fine for the check above).
func nesting(doc []byte) int {
	return bytes.Count(doc, []byte("{")) + bytes.Count(doc, []byte("["))
}
