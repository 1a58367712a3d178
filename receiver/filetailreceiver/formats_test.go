package filetailreceiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func attr(lr plog.LogRecord, key string) string {
	v, ok := lr.Attributes().Get(key)
	if !ok {
		return "<missing>"
	}
	return v.AsString()
}

func resourceOf(t *testing.T, s *recordingSink, body string) map[string]any {
	t.Helper()
	for _, ld := range s.logs {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			lrs := rl.ScopeLogs().At(0).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if lrs.At(k).Body().AsString() == body {
					return rl.Resource().Attributes().AsRaw()
				}
			}
		}
	}
	t.Fatalf("no record with body %q", body)
	return nil
}

// TestKubernetesCRIFile: a container log under /var/log/pods with partial
// lines, JSON and plain-text payloads.
func TestKubernetesCRIFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "var", "log", "pods", "shop_cart-7d9f_0a1b2c3d", "api")
	require.NoError(t, os.MkdirAll(dir, 0o750))
	path := filepath.Join(dir, "3.log")
	appendRaw(t, path, strings.Join([]string{
		`2024-05-01T12:00:00.100000000Z stdout F {"level":"warn","msg":"cart slow","service":"cart","latency_ms":250}`,
		`2024-05-01T12:00:01.000000000Z stderr P first half `,
		`2024-05-01T12:00:01.000000001Z stderr P second half `,
		`2024-05-01T12:00:01.000000002Z stderr F end ERROR done`,
		`2024-05-01T12:00:02.000000000Z stdout F plain INFO line`,
	}, "\n")+"\n")
	cfg := testConfig(root)
	cfg.Include = []string{filepath.Join(root, "var", "log", "pods", "*", "*", "*.log")}
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	require.Equal(t, []string{"cart slow", "first half second half end ERROR done", "plain INFO line"}, sink.bodies())

	json := sink.records[0]
	assert.Equal(t, plog.SeverityNumberWarn, json.SeverityNumber())
	assert.Equal(t, "250", attr(json, "latency_ms"))
	assert.Equal(t, "stdout", attr(json, attrIOStream))
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 100000000, time.UTC), json.Timestamp().AsTime(), "CRI time when the payload has none")
	res := resourceOf(t, sink, "cart slow")
	assert.Equal(t, "cart", res["service.name"])
	assert.Equal(t, "shop", res["k8s.namespace.name"])
	assert.Equal(t, "cart-7d9f", res["k8s.pod.name"])
	assert.Equal(t, "0a1b2c3d", res["k8s.pod.uid"])
	assert.Equal(t, "api", res["k8s.container.name"])
	assert.Equal(t, int64(3), res["k8s.container.restart_count"])

	joined := sink.records[1]
	assert.Equal(t, "stderr", attr(joined, attrIOStream))
	assert.Equal(t, plog.SeverityNumberError, joined.SeverityNumber(), "severity sniffed in the joined text")
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC), joined.Timestamp().AsTime(), "time of the first chunk")
	_, hasService := resourceOf(t, sink, "plain INFO line")["service.name"]
	assert.False(t, hasService, "records without a service are grouped apart")
	h.stop()
}

func TestCRIPartialLineIsNotCommittedEarly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	first := "2024-05-01T12:00:01Z stdout P part one \n"
	appendRaw(t, path, "2024-05-01T12:00:00Z stdout F whole\n"+first)
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	h.pass()
	assert.Equal(t, []string{"whole"}, h.sink.bodies())
	assert.Equal(t, int64(len("2024-05-01T12:00:00Z stdout F whole\n")), h.saved(path), "the checkpoint stays before the pending partial")
	appendRaw(t, path, "2024-05-01T12:00:01Z stdout F part two\n")
	h.pass()
	assert.Equal(t, []string{"whole", "part one part two"}, h.sink.bodies())
	h.stop()
}

func TestDockerJSONFile(t *testing.T) {
	dir := t.TempDir()
	appendRaw(t, filepath.Join(dir, "d.log"),
		`{"log":"level=info msg=\"hello there\" user=bob\n","stream":"stdout","time":"2024-05-01T12:00:00Z"}`+"\n"+
			`{"log":"long ","stream":"stderr","time":"2024-05-01T12:00:01Z"}`+"\n"+
			`{"log":"line\n","stream":"stderr","time":"2024-05-01T12:00:02Z"}`+"\n")
	sink := &recordingSink{}
	h := newHarness(t, testConfig(dir), sink, fileStore(t))
	h.pass()
	require.Equal(t, []string{"hello there", "long line"}, sink.bodies())
	assert.Equal(t, "bob", attr(sink.records[0], "user"))
	assert.Equal(t, plog.SeverityNumberInfo, sink.records[0].SeverityNumber())
	assert.Equal(t, "stderr", attr(sink.records[1], attrIOStream))
	h.stop()
}

func TestAutoDetectionAndFixedFormats(t *testing.T) {
	lines := `{"@timestamp":"2024-05-01T12:00:00Z","level":"error","message":"json line","trace_id":"0af7651916cd43dd8448eb211c80319c"}
ts=2024-05-01T12:00:01Z level=debug msg="logfmt line" k=v
2024-05-01 12:00:02 WARN text line
{not json
`
	tests := []struct {
		format string
		check  func(t *testing.T, recs []plog.LogRecord)
	}{
		{FormatAuto, func(t *testing.T, recs []plog.LogRecord) {
			assert.Equal(t, "json line", recs[0].Body().Str())
			assert.Equal(t, plog.SeverityNumberError, recs[0].SeverityNumber())
			assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", recs[0].TraceID().String())
			assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), recs[0].Timestamp().AsTime())
			assert.Equal(t, "logfmt line", recs[1].Body().Str())
			assert.Equal(t, "v", attr(recs[1], "k"))
			assert.Equal(t, plog.SeverityNumberDebug, recs[1].SeverityNumber())
			assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC), recs[1].Timestamp().AsTime())
			assert.Equal(t, plog.SeverityNumberWarn, recs[2].SeverityNumber())
			assert.Equal(t, "{not json", recs[3].Body().Str(), "malformed JSON is kept as text")
		}},
		{FormatNone, func(t *testing.T, recs []plog.LogRecord) {
			assert.True(t, strings.HasPrefix(recs[0].Body().Str(), `{"@timestamp"`))
			assert.Equal(t, plog.SeverityNumberUnspecified, recs[2].SeverityNumber())
			assert.Equal(t, 2, recs[1].Attributes().Len(), "only the file attributes")
		}},
		{FormatText, func(t *testing.T, recs []plog.LogRecord) {
			assert.Equal(t, plog.SeverityNumberDebug, recs[1].SeverityNumber(), "level= is sniffed in text")
			assert.True(t, strings.HasPrefix(recs[1].Body().Str(), "ts="))
		}},
		{FormatLogfmt, func(t *testing.T, recs []plog.LogRecord) {
			assert.Equal(t, "logfmt line", recs[1].Body().Str())
			assert.True(t, strings.HasPrefix(recs[3].Body().Str(), "{not"), "invalid logfmt is kept as text")
		}},
		{FormatJSON, func(t *testing.T, recs []plog.LogRecord) {
			assert.Equal(t, "json line", recs[0].Body().Str())
			assert.Equal(t, "{not json", recs[3].Body().Str())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			dir := t.TempDir()
			appendRaw(t, filepath.Join(dir, "x.log"), lines)
			cfg := testConfig(dir)
			cfg.Format = tt.format
			sink := &recordingSink{}
			h := newHarness(t, cfg, sink, fileStore(t))
			h.pass()
			require.Len(t, sink.records, 4)
			tt.check(t, sink.records)
			h.stop()
		})
	}
}

func TestMultilineJavaWithFlushTimeout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "java.log")
	trace := "2024-05-01 12:00:00 ERROR failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\n\t... 3 more\n"
	appendRaw(t, path, trace+"2024-05-01 12:00:01 INFO next\n")
	cfg := testConfig(dir)
	cfg.Multiline.Preset = "java"
	cfg.Multiline.FlushTimeout = 2 * time.Second
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	require.Equal(t, []string{strings.TrimSuffix(trace, "\n")}, sink.bodies(), "the last record waits for more lines")
	assert.Equal(t, plog.SeverityNumberError, sink.records[0].SeverityNumber())
	assert.Equal(t, int64(len(trace)), h.saved(path), "the checkpoint stays before the pending record")

	h.clock.advance(cfg.Multiline.FlushTimeout)
	require.NoError(t, h.tailer.pass(t.Context()))
	assert.Equal(t, "2024-05-01 12:00:01 INFO next", sink.bodies()[1], "flushed after flush_timeout")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), h.saved(path))
	h.stop()
}

func TestMaxRecordSizeAndGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	long := strings.Repeat("y", 5000)
	garbage := string([]byte{0x00, 0xff, 0xfe, 'o', 'k', 0x1b, '[', '3', '1', 'm', 0xc3})
	appendRaw(t, path, "before\n"+long+"\n"+garbage+"\n\r\nafter\n")
	cfg := testConfig(dir)
	cfg.MaxRecordSize = 100
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	bodies := sink.bodies()
	require.Len(t, bodies, 5, "one line, one record")
	assert.Equal(t, "before", bodies[0])
	assert.Equal(t, strings.Repeat("y", 100), bodies[1])
	assert.Equal(t, "\x00\uFFFDok\x1b[31m\uFFFD", bodies[2], "invalid UTF-8 replaced, other bytes kept")
	assert.Empty(t, bodies[3])
	assert.Equal(t, "after", bodies[4])
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_records_truncated"))
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_records_utf8_replaced"))
	h.stop()
}

func TestBinaryFileDoesNotStopTailing(t *testing.T) {
	dir := t.TempDir()
	seed := uint64(7)
	garbage := make([]byte, 200_000)
	for i := range garbage {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		garbage[i] = byte(seed)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin.log"), garbage, 0o600))
	appendLines(t, filepath.Join(dir, "ok.log"), "ok", 0, 10)
	cfg := testConfig(dir)
	cfg.MaxRecordSize = 1024
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Equal(t, 0, expectLines(t, sink.bodies(), "ok", 10))
	for _, b := range sink.bodies() {
		assert.LessOrEqual(t, len(b), 3*1024, "bounded records (U+FFFD may triple bytes)")
	}
	h.stop()
}
