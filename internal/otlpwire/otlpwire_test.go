package otlpwire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	for r := range 2 {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", []string{"api", "db"}[r])
		rl.SetSchemaUrl("https://schema/" + []string{"a", "b"}[r])
		for s := range 2 {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName([]string{"scope-x", "scope-y"}[s])
			sl.SetSchemaUrl("https://scope-schema")
			for i := range 3 {
				lr := sl.LogRecords().AppendEmpty()
				lr.Body().SetStr("line")
				lr.Attributes().PutInt("i", int64(r*100+s*10+i))
				lr.SetTraceID(pcommon.TraceID{byte(r), byte(s), byte(i), 1})
			}
		}
	}
	return ld
}

func TestParseListsRecordsInPdataOrder(t *testing.T) {
	ld := sampleLogs()
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)

	var b Batch
	require.NoError(t, b.Parse(buf))
	require.Len(t, b.Scopes, 4)
	require.Len(t, b.Records, 12)

	// Reassemble every scope as its own resource and compare record by record.
	var out []byte
	for _, s := range b.Scopes {
		before := len(out)
		out = AppendResource(out, s.Resource, s.Scope, b.Records[s.First:s.End])
		require.Equal(t, ResourceSize(s.Resource, s.Scope, b.Records[s.First:s.End]), len(out)-before)
	}
	got, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(out)
	require.NoError(t, err)
	require.Equal(t, 4, got.ResourceLogs().Len())
	for r := range 2 {
		for s := range 2 {
			want := ld.ResourceLogs().At(r)
			gotRL := got.ResourceLogs().At(r*2 + s)
			assert.Equal(t, want.Resource().Attributes().AsRaw(), gotRL.Resource().Attributes().AsRaw())
			assert.Equal(t, want.SchemaUrl(), gotRL.SchemaUrl())
			wantSL := want.ScopeLogs().At(s)
			gotSL := gotRL.ScopeLogs().At(0)
			assert.Equal(t, wantSL.Scope().Name(), gotSL.Scope().Name())
			assert.Equal(t, wantSL.SchemaUrl(), gotSL.SchemaUrl())
			require.Equal(t, wantSL.LogRecords().Len(), gotSL.LogRecords().Len())
			for i := range wantSL.LogRecords().Len() {
				assert.Equal(t, wantSL.LogRecords().At(i).Attributes().AsRaw(), gotSL.LogRecords().At(i).Attributes().AsRaw())
				assert.Equal(t, wantSL.LogRecords().At(i).TraceID(), gotSL.LogRecords().At(i).TraceID())
			}
		}
	}
}

func TestParseTraces(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range 5 {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("op")
		sp.SetTraceID(pcommon.TraceID{byte(i)})
	}
	buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	var b Batch
	require.NoError(t, b.Parse(buf))
	require.Len(t, b.Records, 5)
	out := AppendResource(nil, b.Scopes[0].Resource, b.Scopes[0].Scope, b.Records[2:3])
	got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(out)
	require.NoError(t, err)
	require.Equal(t, 1, got.SpanCount())
	assert.Equal(t, pcommon.TraceID{2}, got.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID())
	assert.Equal(t, "api", got.ResourceSpans().At(0).Resource().Attributes().AsRaw()["service.name"])
}

func TestParseRejectsMalformedInput(t *testing.T) {
	for name, data := range map[string][]byte{
		"truncated length":        {0x0a, 0x05, 0x01},
		"bad tag":                 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"child with varint type":  {0x0a, 0x02, 0x10, 0x01},
		"truncated scope payload": {0x0a, 0x03, 0x12, 0x05, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			var b Batch
			require.Error(t, b.Parse(data))
		})
	}
}

func TestParseReusesBatch(t *testing.T) {
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(sampleLogs())
	require.NoError(t, err)
	var b Batch
	require.NoError(t, b.Parse(buf))
	require.NoError(t, b.Parse(buf[:0]))
	assert.Empty(t, b.Records)
	assert.Empty(t, b.Scopes)
}

// FuzzParse checks that arbitrary input never panics and that whatever parses
// can be reassembled and parsed again to the same records.
func FuzzParse(f *testing.F) {
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(sampleLogs())
	require.NoError(f, err)
	f.Add(buf)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		n, countErr := CountRecords(data) // never panics, whatever data is
		if b.Parse(data) != nil {
			return
		}
		require.NoError(t, countErr, "Parse accepted what CountRecords refused")
		require.Equal(t, len(b.Records), n)
		var out []byte
		for _, s := range b.Scopes {
			out = AppendResource(out, s.Resource, s.Scope, b.Records[s.First:s.End])
		}
		var again Batch
		require.NoError(t, again.Parse(out))
		require.Len(t, again.Records, len(b.Records))
		for i := range b.Records {
			require.True(t, bytes.Equal(b.Records[i], again.Records[i]))
		}
	})
}
