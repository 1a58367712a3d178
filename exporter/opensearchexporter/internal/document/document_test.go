package document

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func sampleLog() (pcommon.Resource, pcommon.InstrumentationScope, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("lib")
	sl.Scope().SetVersion("1.2")
	sl.Scope().Attributes().PutStr("k", "v")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 3, 4, 5, 6, 8, 0, time.UTC)))
	lr.Body().SetStr("payment \"failed\"\n\x01 \xff")
	lr.SetSeverityText("ERROR")
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetTraceID(pcommon.TraceID{0xab, 1})
	lr.SetSpanID(pcommon.SpanID{0xcd, 2})
	lr.Attributes().PutDouble("nan", math.NaN())
	lr.Attributes().PutEmptyBytes("raw").FromRaw([]byte{1, 2})
	m := lr.Attributes().PutEmptyMap("http")
	m.PutStr("method", "GET")
	s := lr.Attributes().PutEmptySlice("list")
	s.AppendEmpty().SetInt(1)
	s.AppendEmpty().SetBool(true)
	lr.Attributes().PutEmpty("empty")
	return rl.Resource(), sl.Scope(), lr
}

func TestAppendLog(t *testing.T) {
	res, scope, lr := sampleLog()
	doc := AppendLog(nil, res, scope, "https://schema", lr)
	require.True(t, json.Valid(doc), string(doc))
	var got map[string]any
	require.NoError(t, json.Unmarshal(doc, &got))
	assert.Equal(t, "2026-03-04T05:06:07.000000008Z", got["@timestamp"])
	assert.Equal(t, "2026-03-04T05:06:08.000000000Z", got["observedTimestamp"])
	assert.Equal(t, "payment \"failed\"\n\x01 \ufffd", got["body"])
	assert.Equal(t, map[string]any{"text": "ERROR", "number": float64(17)}, got["severity"])
	assert.Equal(t, "ab010000000000000000000000000000", got["traceId"])
	assert.Equal(t, "cd02000000000000", got["spanId"])
	assert.Equal(t, map[string]any{"name": "lib", "version": "1.2", "schemaUrl": "https://schema", "attributes": map[string]any{"k": "v"}}, got["instrumentationScope"])
	assert.Equal(t, map[string]any{"service.name": "checkout"}, got["resource"])
	assert.Equal(t, map[string]any{
		"nan": "NaN", "raw": "AQI=", "http": map[string]any{"method": "GET"},
		"list": []any{float64(1), true}, "empty": nil,
	}, got["attributes"])
}

func TestLogTimestampFallsBackToObserved(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.SetObservedTimestamp(5)
	assert.Equal(t, pcommon.Timestamp(5), LogTimestamp(lr))
	lr.SetTimestamp(7)
	assert.Equal(t, pcommon.Timestamp(7), LogTimestamp(lr))
	lr.SetTimestamp(math.MaxUint64) // garbage: would read as a date before 1970
	assert.Equal(t, pcommon.Timestamp(5), LogTimestamp(lr))
	lr.SetObservedTimestamp(math.MaxInt64 + 1)
	assert.Equal(t, pcommon.Timestamp(0), LogTimestamp(lr))
	doc := AppendLog(nil, pcommon.NewResource(), pcommon.NewInstrumentationScope(), "", plog.NewLogRecord())
	assert.JSONEq(t, `{"@timestamp":"1970-01-01T00:00:00.000000000Z"}`, string(doc))
}

func TestStructuredBodyIsText(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.Body().SetEmptyMap().PutStr("msg", "hi")
	doc := AppendLog(nil, pcommon.NewResource(), pcommon.NewInstrumentationScope(), "", lr)
	var got map[string]any
	require.NoError(t, json.Unmarshal(doc, &got))
	assert.Equal(t, `{"msg":"hi"}`, got["body"])
}

func TestAppendSpan(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1})
	sp.SetSpanID(pcommon.SpanID{2})
	sp.SetParentSpanID(pcommon.SpanID{3})
	sp.SetName("op")
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetStartTimestamp(1_000)
	sp.SetEndTimestamp(3_500)
	sp.Status().SetCode(ptrace.StatusCodeOk)
	sp.Events().AppendEmpty().SetName("e")
	l := sp.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{4})
	l.SetSpanID(pcommon.SpanID{5})
	doc := AppendSpan(nil, rs.Resource(), pcommon.NewInstrumentationScope(), "", sp)
	require.True(t, json.Valid(doc), string(doc))
	var got map[string]any
	require.NoError(t, json.Unmarshal(doc, &got))
	assert.Equal(t, "SPAN_KIND_CLIENT", got["kind"])
	assert.Equal(t, float64(2500), got["durationInNanos"])
	assert.Equal(t, "cart", got["serviceName"])
	assert.Equal(t, "0300000000000000", got["parentSpanId"])
	assert.Equal(t, map[string]any{"code": float64(1)}, got["status"])
	assert.Len(t, got["events"], 1)
	assert.Len(t, got["links"], 1)
	assert.NotContains(t, got, "instrumentationScope")
}

// Leaves longer than MaxIndexedValue are cut in the flat_object fields (one
// Lucene term each, at most 32,766 bytes) and kept whole in "untruncated".
func TestLongAttributeValuesAreCutAndKeptWhole(t *testing.T) {
	long := strings.Repeat("at com.example.Foo.bar(Foo.java:42)\n", 1000) + "é"
	raw := make([]byte, MaxIndexedValue)
	res, scope, lr := sampleLog()
	lr.Attributes().PutStr("exception.stacktrace", long)
	lr.Attributes().PutEmptyMap("nested").PutEmptySlice("list").AppendEmpty().SetStr(long)
	lr.Attributes().PutEmptyBytes("blob").FromRaw(raw)
	res.Attributes().PutStr("short", "kept")

	var got map[string]any
	require.NoError(t, json.Unmarshal(AppendLog(nil, res, scope, "", lr), &got))
	attrs := got["attributes"].(map[string]any)
	cut := attrs["exception.stacktrace"].(string)
	assert.LessOrEqual(t, len(cut), MaxIndexedValue)
	assert.True(t, utf8.ValidString(cut))
	assert.True(t, strings.HasPrefix(long, cut))
	assert.LessOrEqual(t, len(attrs["nested"].(map[string]any)["list"].([]any)[0].(string)), MaxIndexedValue)
	assert.LessOrEqual(t, len(attrs["blob"].(string)), MaxIndexedValue)
	assert.Equal(t, "GET", attrs["http"].(map[string]any)["method"], "short values untouched")
	assert.Equal(t, map[string]any{
		"attributes.exception.stacktrace": long,
		"attributes.nested":               map[string]any{"list": []any{long}},
		"attributes.blob":                 base64.StdEncoding.EncodeToString(raw),
	}, got["untruncated"])

	// Spans: event and link attributes carry their place in the path.
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Events().AppendEmpty().SetName("start")
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.stacktrace", long)
	sp.Links().AppendEmpty().Attributes().PutStr("k\"ey", long)
	scope.Attributes().PutStr("s", long)
	got = nil
	require.NoError(t, json.Unmarshal(AppendSpan(nil, rs.Resource(), scope, "", sp), &got))
	assert.Equal(t, map[string]any{
		"instrumentationScope.attributes.s":        long,
		"events.1.attributes.exception.stacktrace": long,
		"links.0.attributes.k\"ey":                 long,
	}, got["untruncated"])

	// Nothing long: no "untruncated" field, the document as before.
	res, scope, lr = sampleLog()
	assert.NotContains(t, string(AppendLog(nil, res, scope, "", lr)), "untruncated")
}

func TestContentIDIsDeterministicAndDistinct(t *testing.T) {
	res, scope, lr := sampleLog()
	a := AppendContentID(nil, AppendLog(nil, res, scope, "", lr))
	b := AppendContentID(nil, AppendLog(nil, res, scope, "", lr))
	assert.Equal(t, a, b)
	assert.Len(t, a, HashIDLen)
	lr.Attributes().PutStr("x", "y")
	c := AppendContentID(nil, AppendLog(nil, res, scope, "", lr))
	assert.NotEqual(t, a, c)
}

// FuzzAppendString checks that any input string yields valid JSON that
// decodes back to the input when the input is valid UTF-8.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\t", "\xff\xfe", "é漢字🙂", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
	})
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC),
	} {
		want := `"` + tm.Format(timeLayout) + `"`
		assert.Equal(t, want, string(AppendTime(nil, pcommon.NewTimestampFromTime(tm))))
	}
}
