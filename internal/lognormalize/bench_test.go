package lognormalize

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/cputime"
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

// appLogDocs returns n request-log documents shaped like the agent
// benchmark's lines (~480 B): repeating values (levels, services, methods,
// routes) next to distinct ones (messages, e-mails, addresses, ids).
func appLogDocs(n int) [][]byte {
	services := []string{"search", "checkout", "cart", "payments", "frontend"}
	routes := []string{"/api/v1/search", "/api/v1/cart", "/api/v1/items/{id}", "/api/v1/pay", "/healthz"}
	methods := []string{"GET", "GET", "POST", "PUT"}
	levels := []string{"INFO", "INFO", "INFO", "WARN", "ERROR"}
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = fmt.Appendf(nil, `{"time":"2026-11-21T09:39:08.%09dZ","level":%q,"service":%q,"logger":"http.access",`+
			`"msg":"%s %s?q=item-%d&page=1 returned %d hits","http.method":%q,"http.route":%q,"http.status_code":%d,`+
			`"duration_ms":%d,"client.ip":"81.78.%d.%d","user.email":"user%d@example.com",`+
			`"trace_id":"%032x","span_id":"%016x","request_id":"req-%012x","sluice.test.id":"run-%d"}`,
			i, levels[i%len(levels)], services[i%len(services)], methods[i%len(methods)], routes[i%len(routes)], i, i%17,
			methods[i%len(methods)], routes[i%len(routes)], 200+i%3, i%900, i%256, (i/256)%256, i, i+1, i+1, i, i)
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
