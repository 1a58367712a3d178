package otlpwire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicelogs/sluice/testbed/loadgen"
)

// fillAttrs puts one value of every type, including nested and long ones
// (lengths needing 2- and 3-byte varints), into m.
func fillAttrs(m pcommon.Map, seed int) {
	if seed < 0 { // small: for fuzz seeds
		m.PutStr("str", "value")
		m.PutInt("int", -1)
		m.PutEmptySlice("slice").AppendEmpty().SetEmptyMap().PutBool("b", true)
		m.PutEmptyBytes("bytes").FromRaw([]byte{1})
		return
	}
	m.PutStr("str", "value")
	m.PutStr("empty", "")
	m.PutStr("", "empty key")
	m.PutStr("long", strings.Repeat("x", 200+seed))
	m.PutStr("longer", strings.Repeat("y", 17000))
	m.PutInt("int", int64(seed))
	m.PutInt("neg", -1)
	m.PutDouble("double", 2.5)
	m.PutBool("true", true)
	m.PutBool("false", false)
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2})
	m.PutEmptyBytes("no bytes")
	m.PutEmpty("empty value")
	sub := m.PutEmptyMap("map")
	sub.PutStr("inner", strings.Repeat("z", 130))
	sub.PutEmptySlice("list").AppendEmpty().SetInt(7)
	m.PutEmptyMap("empty map")
	sl := m.PutEmptySlice("slice")
	sl.AppendEmpty().SetStr("a")
	sl.AppendEmpty()
	sl.AppendEmpty().SetEmptyMap().PutDouble("d", -0.5)
	m.PutEmptySlice("empty slice")
}

// richTraces uses every field; small keeps values short (fuzz seeds).
func richTraces(small bool) ptrace.Traces {
	seed := func(n int) int {
		if small {
			return -1
		}
		return n
	}
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		if r == 0 {
			fillAttrs(rs.Resource().Attributes(), seed(r))
			rs.Resource().SetDroppedAttributesCount(3)
			rs.SetSchemaUrl("https://schema/r")
			ref := entity.ResourceEntityRefs(rs.Resource()).AppendEmpty()
			ref.SetType("service")
			ref.SetSchemaUrl("https://entity")
			ref.IdKeys().FromRaw([]string{"service.name", ""})
			ref.DescriptionKeys().FromRaw([]string{"service.version"})
		}
		for s := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			if s == 1 {
				ss.Scope().SetName("scope")
				ss.Scope().SetVersion("1.0")
				ss.Scope().SetDroppedAttributesCount(1)
				ss.Scope().Attributes().PutStr("k", "v")
				ss.SetSchemaUrl("https://schema/s")
			}
			ss.Spans().AppendEmpty() // all defaults
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{1, 2, 3, byte(r), byte(s)})
			sp.SetSpanID(pcommon.SpanID{4, 5})
			sp.SetParentSpanID(pcommon.SpanID{6})
			sp.TraceState().FromRaw("a=b")
			sp.SetFlags(0x101)
			sp.SetName("GET /x")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(1)
			sp.SetEndTimestamp(1 << 62)
			fillAttrs(sp.Attributes(), seed(r*10+s))
			sp.SetDroppedAttributesCount(300)
			sp.SetDroppedEventsCount(1)
			sp.SetDroppedLinksCount(2)
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(99)
			ev.SetDroppedAttributesCount(1)
			ev.Attributes().PutStr("exception.stacktrace", strings.Repeat("at x\n", 1+59*(1+seed(0))))
			sp.Events().AppendEmpty()
			ln := sp.Links().AppendEmpty()
			ln.SetTraceID(pcommon.TraceID{9})
			ln.SetSpanID(pcommon.SpanID{8})
			ln.TraceState().FromRaw("c=d")
			ln.SetFlags(1)
			ln.SetDroppedAttributesCount(2)
			ln.Attributes().PutInt("n", 1)
			sp.Links().AppendEmpty()
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("boom")
			sp2 := ss.Spans().AppendEmpty()
			sp2.SetKind(ptrace.SpanKind(-1)) // out of range: 10-byte varint
			sp2.Status().SetCode(ptrace.StatusCodeOk)
		}
	}
	rs := td.ResourceSpans().AppendEmpty() // a resource without scopes
	rs.Resource().Attributes().PutStr("service.name", "idle")
	return td
}

func richLogs(small bool) plog.Logs {
	seed := func(n int) int {
		if small {
			return -1
		}
		return n
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	fillAttrs(rl.Resource().Attributes(), seed(1))
	rl.SetSchemaUrl("https://schema/r")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("logger")
	sl.LogRecords().AppendEmpty() // all defaults
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(1)
	lr.SetObservedTimestamp(2)
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("ERROR")
	lr.Body().SetStr(strings.Repeat("line ", 1+39*(1+seed(0))))
	fillAttrs(lr.Attributes(), seed(2))
	lr.SetDroppedAttributesCount(4)
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	lr.SetTraceID(pcommon.TraceID{1})
	lr.SetSpanID(pcommon.SpanID{2})
	lr.SetEventName("event")
	lr = sl.LogRecords().AppendEmpty()
	fillAttrs(lr.Body().SetEmptyMap(), seed(3))
	lr.SetSeverityNumber(plog.SeverityNumber(-3))
	lr = sl.LogRecords().AppendEmpty()
	lr.Body().SetEmptyBytes().FromRaw([]byte("raw"))
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty() // empty scope
	return ld
}

// requireSameBatch fails unless got holds exactly the scopes and records
// that Parse found in want.
func requireSameBatch(t *testing.T, want, got *Batch) {
	t.Helper()
	require.Len(t, got.Records, len(want.Records))
	for i := range want.Records {
		require.True(t, bytes.Equal(want.Records[i], got.Records[i]), "record %d:\nwant % x\ngot  % x", i, want.Records[i], got.Records[i])
	}
	require.Len(t, got.Scopes, len(want.Scopes))
	for i, w := range want.Scopes {
		g := got.Scopes[i]
		require.Equal(t, w.First, g.First, "scope %d", i)
		require.Equal(t, w.End, g.End, "scope %d", i)
		require.True(t, bytes.Equal(w.Resource, g.Resource), "scope %d resource:\nwant % x\ngot  % x", i, w.Resource, g.Resource)
		require.True(t, bytes.Equal(w.Scope, g.Scope), "scope %d scope:\nwant % x\ngot  % x", i, w.Scope, g.Scope)
	}
}

func TestEncodeTracesMatchesPdata(t *testing.T) {
	td := richTraces(false)
	buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	var want, got Batch
	require.NoError(t, want.Parse(buf))
	got.EncodeTraces(td)
	requireSameBatch(t, &want, &got)
}

func TestEncodeLogsMatchesPdata(t *testing.T) {
	ld := richLogs(false)
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	var want, got Batch
	require.NoError(t, want.Parse(buf))
	got.EncodeLogs(ld)
	requireSameBatch(t, &want, &got)
}

// AppendData writes a whole batch as one request: pdata must read back
// exactly the batch it came from (resources without scopes, which carry no
// records, left out), and DataSize must be its size.
func TestAppendDataRoundTrips(t *testing.T) {
	ld := richLogs(false)
	// A second scope under one resource, and a resource without scopes.
	sl := ld.ResourceLogs().At(0).ScopeLogs().AppendEmpty()
	sl.Scope().SetName("second")
	sl.LogRecords().AppendEmpty().Body().SetStr("in the second scope")
	ld.ResourceLogs().AppendEmpty().Resource().Attributes().PutStr("no", "scopes")
	requireLogsRoundTrip(t, ld)
	requireTracesRoundTrip(t, richTraces(false))
	requireLogsRoundTrip(t, plog.NewLogs())
}

func requireLogsRoundTrip(t *testing.T, ld plog.Logs) {
	t.Helper()
	var b Batch
	b.EncodeLogs(ld)
	data := b.AppendData([]byte{0xee})
	require.Equal(t, 1+b.DataSize(), len(data))
	back, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data[1:])
	require.NoError(t, err)
	want := plog.NewLogs()
	ld.CopyTo(want)
	want.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool { return rl.ScopeLogs().Len() == 0 })
	require.Equal(t, mustMarshalLogs(t, want), mustMarshalLogs(t, back))
}

func requireTracesRoundTrip(t *testing.T, td ptrace.Traces) {
	t.Helper()
	var b Batch
	b.EncodeTraces(td)
	data := b.AppendData(nil)
	require.Len(t, data, b.DataSize())
	back, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
	require.NoError(t, err)
	want := ptrace.NewTraces()
	td.CopyTo(want)
	want.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.ScopeSpans().Len() == 0 })
	require.Equal(t, mustMarshalTraces(t, want), mustMarshalTraces(t, back))
}

// Held tells a pool of batches how much memory a batch keeps: at least the
// records it encoded, and still after a smaller batch (the buffer is reused).
func TestHeldCoversTheLargestBatch(t *testing.T) {
	var b Batch
	require.Zero(t, b.Held())
	b.EncodeLogs(richLogs(false))
	encoded := 0
	for _, r := range b.Records {
		encoded += len(r)
	}
	require.Greater(t, encoded, 17000)
	require.GreaterOrEqual(t, b.Held(), encoded)
	b.EncodeLogs(plog.NewLogs())
	require.GreaterOrEqual(t, b.Held(), encoded)
}

// CountRecords finds every record of a request — several resources and
// scopes, empty ones too — and refuses a malformed one.
func TestCountRecords(t *testing.T) {
	for _, shape := range [][]int{{}, {0}, {1}, {3, 0, 7}, {200}} {
		ld := plog.NewLogs()
		for _, n := range shape {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "s")
			sl := rl.ScopeLogs().AppendEmpty()
			for range n {
				sl.LogRecords().AppendEmpty().Body().SetStr("line")
			}
			rl.ScopeLogs().AppendEmpty() // an empty scope counts nothing
		}
		got, err := CountRecords(mustMarshalLogs(t, ld))
		require.NoError(t, err)
		require.Equal(t, ld.LogRecordCount(), got, "shape %v", shape)
	}
	td := richTraces(false)
	got, err := CountRecords(mustMarshalTraces(t, td))
	require.NoError(t, err)
	require.Equal(t, td.SpanCount(), got)

	body := mustMarshalLogs(t, richLogs(false))
	for _, bad := range [][]byte{body[:len(body)-1], {0x0a, 0x05, 0x12}, {0x08, 0x01}} {
		_, err := CountRecords(bad)
		require.Error(t, err, "% x", bad[:min(len(bad), 8)])
	}
}

func TestEncodeReusesBatch(t *testing.T) {
	var b Batch
	b.EncodeLogs(richLogs(false))
	require.NotEmpty(t, b.Records)
	b.EncodeTraces(ptrace.NewTraces())
	require.Empty(t, b.Records)
	require.Empty(t, b.Scopes)
	// A smaller batch after a larger one: nothing of the first remains.
	small := plog.NewLogs()
	small.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
	b.EncodeLogs(small)
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(small)
	require.NoError(t, err)
	var want Batch
	require.NoError(t, want.Parse(buf))
	requireSameBatch(t, &want, &b)
}

func TestCloseFieldLongPayloads(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		dst, start := openField([]byte{0xee}, 0x0a)
		dst = append(dst, bytes.Repeat([]byte{7}, n)...)
		dst = closeField(dst, start)
		want := protowire.AppendBytes([]byte{0xee, 0x0a}, bytes.Repeat([]byte{7}, n))
		require.True(t, bytes.Equal(want, dst), "payload of %d bytes", n)
	}
}

// FuzzEncode decodes arbitrary input with pdata and checks that the encoder
// produces exactly pdata's own encoding, record by record. Inputs using the
// profiles string-table references, which pdata cannot expose, are the
// documented exception: for them only the record count must agree.
func FuzzEncode(f *testing.F) {
	for _, seed := range [][]byte{
		mustMarshalTraces(f, richTraces(true)),
		mustMarshalLogs(f, richLogs(true)),
		{},
		{0x0a, 0x00},
		{0x0a, 0x04, 0x12, 0x02, 0x12, 0x00},
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, logs bool) {
		var want, got Batch
		var buf []byte
		var msg msgType
		if logs {
			ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data)
			if err != nil {
				return
			}
			buf = mustMarshalLogs(t, ld)
			got.EncodeLogs(ld)
			msg = msgLogsData
		} else {
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
			if err != nil {
				return
			}
			buf = mustMarshalTraces(t, td)
			got.EncodeTraces(td)
			msg = msgTracesData
		}
		require.NoError(t, want.Parse(buf))
		if hasStrindex(buf, msg) {
			require.Len(t, got.Records, len(want.Records))
			return
		}
		requireSameBatch(t, &want, &got)
		if logs {
			ld, _ := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data)
			requireLogsRoundTrip(t, ld)
		} else {
			td, _ := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
			requireTracesRoundTrip(t, td)
		}
	})
}

func mustMarshalTraces(t testing.TB, td ptrace.Traces) []byte {
	buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return buf
}

func mustMarshalLogs(t testing.TB, ld plog.Logs) []byte {
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return buf
}

// msgType names the OTLP messages that can contain a KeyValue or AnyValue.
type msgType int

const (
	msgNone msgType = iota
	msgTracesData
	msgLogsData
	msgResourceSpans
	msgResourceLogs
	msgResource
	msgScopeSpans
	msgScopeLogs
	msgScope
	msgSpan
	msgEvent
	msgLink
	msgLogRecord
	msgKeyValue
	msgAnyValue
	msgArray
	msgKVList
)

// children maps (message, field number) to the message type of that field.
var children = map[msgType]map[protowire.Number]msgType{
	msgTracesData:    {1: msgResourceSpans},
	msgLogsData:      {1: msgResourceLogs},
	msgResourceSpans: {1: msgResource, 2: msgScopeSpans},
	msgResourceLogs:  {1: msgResource, 2: msgScopeLogs},
	msgResource:      {1: msgKeyValue},
	msgScopeSpans:    {1: msgScope, 2: msgSpan},
	msgScopeLogs:     {1: msgScope, 2: msgLogRecord},
	msgScope:         {3: msgKeyValue},
	msgSpan:          {9: msgKeyValue, 11: msgEvent, 13: msgLink},
	msgEvent:         {3: msgKeyValue},
	msgLink:          {4: msgKeyValue},
	msgLogRecord:     {5: msgAnyValue, 6: msgKeyValue},
	msgKeyValue:      {2: msgAnyValue},
	msgAnyValue:      {5: msgArray, 6: msgKVList},
	msgArray:         {1: msgAnyValue},
	msgKVList:        {1: msgKeyValue},
}

// hasStrindex reports whether a message of type typ (as pdata encodes it)
// carries KeyValue.key_strindex (3) or AnyValue.string_value_strindex (8).
func hasStrindex(msg []byte, typ msgType) bool {
	for len(msg) > 0 {
		num, wt, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return false
		}
		msg = msg[n:]
		if (typ == msgKeyValue && num == 3) || (typ == msgAnyValue && num == 8) {
			return true
		}
		m := protowire.ConsumeFieldValue(num, wt, msg)
		if m < 0 {
			return false
		}
		if child := children[typ][num]; child != msgNone && wt == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(msg)
			if hasStrindex(v, child) {
				return true
			}
		}
		msg = msg[m:]
	}
	return false
}

// Records are sliced as they are encoded, before the buffer stops growing:
// those written before a growth must still hold their bytes afterwards,
// from a fresh batch and from a reused one growing past its capacity.
func TestRecordsSurviveBufferGrowth(t *testing.T) {
	var got Batch
	for _, n := range []int{1, 5, 40} { // each larger than the last
		td := ptrace.NewTraces()
		for i := range n {
			req := loadgen.ServerSpanRequest(uint64(i)*loadgen.ServerSpanTraces, i%loadgen.ServerSpansPerTrace)
			req.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		var want Batch
		require.NoError(t, want.Parse(buf))
		held := got.Held()
		got.EncodeTraces(td)
		require.Greater(t, got.Held(), held, "the buffer grew while encoding")
		requireSameBatch(t, &want, &got)
	}
}
