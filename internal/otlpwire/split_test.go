package otlpwire

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// splitLogs builds resources × scopes × records log records of growing
// sizes, every resource and scope with its own attributes or name.
func splitLogs(resources, scopes, records int) plog.Logs {
	ld := plog.NewLogs()
	for r := range resources {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprint("svc-", r))
		rl.SetSchemaUrl("https://schema/" + fmt.Sprint(r))
		for s := range scopes {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(fmt.Sprintf("scope-%d-%d", r, s))
			sl.SetSchemaUrl("https://scope/" + fmt.Sprint(s))
			for i := range records {
				lr := sl.LogRecords().AppendEmpty()
				lr.Body().SetStr(fmt.Sprintf("r%d s%d i%d %s", r, s, i, strings.Repeat("x", 10*i)))
				lr.Attributes().PutInt("i", int64(i))
			}
		}
	}
	return ld
}

// flatLogs lists every record as JSON of a request holding only it, with its
// resource and scope: equal lists mean the same records in the same order,
// each under the same resource and scope.
func flatLogs(t testing.TB, ld plog.Logs) []string {
	var out []string
	m := plog.JSONMarshaler{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				one := plog.NewLogs()
				orl := one.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				orl.SetSchemaUrl(rl.SchemaUrl())
				osl := orl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(osl.Scope())
				osl.SetSchemaUrl(sl.SchemaUrl())
				lr.CopyTo(osl.LogRecords().AppendEmpty())
				b, err := m.MarshalLogs(one)
				require.NoError(t, err)
				out = append(out, string(b))
			}
		}
	}
	return out
}

// checkLogsSplit splits body at maxBytes and checks the parts: each within
// the limit unless it is one record, together the original records in order.
func checkLogsSplit(t testing.TB, body []byte, maxBytes int) [][]byte {
	orig, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
	require.NoError(t, err)
	parts, err := SplitRequest(body, maxBytes)
	require.NoError(t, err)
	var got []string
	for i, p := range parts {
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(p)
		require.NoError(t, err, "part %d", i)
		require.Positive(t, ld.LogRecordCount(), "part %d is empty", i)
		if len(p) > maxBytes {
			require.Equal(t, 1, ld.LogRecordCount(), "part %d: %d bytes over the limit %d with more than one record", i, len(p), maxBytes)
		}
		got = append(got, flatLogs(t, ld)...)
	}
	require.Equal(t, flatLogs(t, orig), got)
	return parts
}

func TestSplitRequestKeepsEveryRecordInOrder(t *testing.T) {
	body, err := (&plog.ProtoMarshaler{}).MarshalLogs(splitLogs(3, 2, 40))
	require.NoError(t, err)
	for _, maxBytes := range []int{1, 100, 500, 1000, 4096, len(body) / 3, len(body) - 1, len(body), 10 * len(body)} {
		t.Run(fmt.Sprint(maxBytes), func(t *testing.T) {
			parts := checkLogsSplit(t, body, maxBytes)
			if maxBytes >= len(body) {
				assert.Equal(t, 1, len(parts)) //nolint:testifylint // Len would print the parts
			}
			if maxBytes == 1 {
				assert.Equal(t, 3*2*40, len(parts), "one record per part") //nolint:testifylint // Len would print the parts
			}
		})
	}
}

func TestSplitRequestFillsParts(t *testing.T) {
	// 1000 records of one resource and scope, about 1 KB each: parts close to
	// the limit, not a record per part.
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range 1000 {
		lrs.AppendEmpty().Body().SetStr(fmt.Sprintf("%04d %s", i, strings.Repeat("y", 1000)))
	}
	body, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	parts := checkLogsSplit(t, body, 64<<10)
	assert.Equal(t, len(body)/(64<<10)+1, len(parts)) //nolint:testifylint // Len would print the parts
}

func TestSplitRequestTraces(t *testing.T) {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprint("svc-", r))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("scope")
		for i := range 30 {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(fmt.Sprintf("span-%d-%d", r, i))
			sp.Attributes().PutStr("pad", strings.Repeat("p", i*7))
		}
	}
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	parts, err := SplitRequest(body, 600)
	require.NoError(t, err)
	require.Greater(t, len(parts), 2)
	var names []string
	for _, p := range parts {
		got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(p)
		require.NoError(t, err)
		for _, rs := range got.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				assert.Equal(t, "scope", ss.Scope().Name())
				for _, sp := range ss.Spans().All() {
					names = append(names, svc.Str()+"/"+sp.Name())
				}
			}
		}
	}
	var want []string
	for r := range 2 {
		for i := range 30 {
			want = append(want, fmt.Sprintf("svc-%d/span-%d-%d", r, r, i))
		}
	}
	assert.Equal(t, want, names)
}

func TestSplitRequestMalformed(t *testing.T) {
	for name, body := range map[string][]byte{
		"truncated":                {0x0a, 0x05, 0x01},
		"resource entry as varint": {0x08, 0x01},
		"record as varint":         {0x0a, 0x04, 0x12, 0x02, 0x10, 0x01},
		"bad tag":                  {0x00},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SplitRequest(body, 10)
			require.True(t, errors.Is(err, ErrMalformed), "got %v", err)
		})
	}
	parts, err := SplitRequest(nil, 10)
	require.NoError(t, err)
	assert.Empty(t, parts, "an empty request has nothing to send")
}

func FuzzSplitRequest(f *testing.F) {
	for _, ld := range []plog.Logs{splitLogs(1, 1, 3), splitLogs(2, 2, 4)} {
		body, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		require.NoError(f, err)
		f.Add(body, uint16(60))
		f.Add(body, uint16(1000))
	}
	f.Add([]byte{0x0a, 0x00}, uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, maxBytes uint16) {
		if _, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body); err != nil {
			// Not a request pdata reads: SplitRequest must only not crash.
			_, _ = SplitRequest(body, int(maxBytes))
			return
		}
		if _, err := SplitRequest(body, int(maxBytes)); err != nil {
			// Stricter than pdata about wire types of the nested lists.
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		checkLogsSplit(t, body, int(maxBytes))
	})
}
