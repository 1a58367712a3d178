package lognormalize

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/testbed/loadgen"
)

// benchDoc is a typical ~300-byte ECS-ish application log document.
const benchDoc = `{"@timestamp":"2024-05-01T10:20:30.123Z","log.level":"info","message":"GET /api/v1/orders/12345 completed","service.name":"checkout","trace.id":"0af7651916cd43dd8448eb211c80319c","span.id":"b7ad6b7169203331","http":{"method":"GET","status_code":200},"url.path":"/api/v1/orders/12345","duration_ms":12.5,"user.id":"u-981","host.name":"web-1"}`

func BenchmarkNormalize(b *testing.B) {
	doc := []byte(benchDoc)
	n := New()
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if i%1024 == 0 { // keep memory flat, like a receiver flushing batches
			records.RemoveIf(func(plog.LogRecord) bool { return true })
		}
		if _, err := n.Normalize(doc, records.AppendEmpty(), rl.Resource().Attributes()); err != nil {
			b.Fatal(err)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0)
}

// appLogDocs returns the first n lines the agent benchmark writes
// (testbed/loadgen's app-log shape, ~480 B: repeating levels, services and
// routes next to distinct messages, e-mails, addresses and ids), without
// their newline.
func appLogDocs(n int) [][]byte {
	docs := make([][]byte, n)
	written := time.Date(2026, 11, 21, 9, 39, 8, 0, time.UTC)
	for i := range docs {
		docs[i] = bytes.TrimSuffix(loadgen.AppendAppLogLine(nil, "bench", i, written.Add(time.Duration(i)*time.Microsecond)), []byte("\n"))
	}
	return docs
}

// BenchmarkNormalizeAppLog normalizes varied request-log documents (the
// agent's line shape), so value interning meets distinct values too.
func BenchmarkNormalizeAppLog(b *testing.B) {
	docs := appLogDocs(4096)
	n := New()
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	b.SetBytes(int64(len(docs[0])))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if i%1024 == 0 {
			records.RemoveIf(func(plog.LogRecord) bool { return true })
		}
		if _, err := n.Normalize(docs[i%len(docs)], records.AppendEmpty(), rl.Resource().Attributes()); err != nil {
			b.Fatal(err)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0)
}

// reportPerDoc reports wall and CPU cost per document; docs/cpu-s is the
// throughput one fully used core would reach.
func reportPerDoc(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/doc")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "docs/cpu-s")
	}
}

// BenchmarkDecodeToMapBaseline is the naive approach this package avoids:
// encoding/json into map[string]any, then pcommon.Map.FromRaw (no field lifting).
func BenchmarkDecodeToMapBaseline(b *testing.B) {
	doc := []byte(benchDoc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			b.Fatal(err)
		}
		lr := plog.NewLogRecord()
		if err := lr.Attributes().FromRaw(m); err != nil {
			b.Fatal(err)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0)
}

func BenchmarkParseTimestamp(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := ParseTimestampString("2024-05-01T10:20:30.123456Z"); !ok {
			b.Fatal("parse failed")
		}
	}
}

// BenchmarkScanAppLog is the scanner alone (the tape of one ~480 B app-log
// document), without building the record.
func BenchmarkScanAppLog(b *testing.B) {
	docs := appLogDocs(4096)
	var t tape
	b.SetBytes(int64(len(docs[0])))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if err := t.scan(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0)
}
