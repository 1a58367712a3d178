package opensearchexporter

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

// benchLogs builds n realistic records (~300 B documents): an HTTP access
// log line with a few attributes, trace context and two resources.
func benchLogs(n int, offset int) plog.Logs {
	ld := plog.NewLogs()
	var sl plog.ScopeLogs
	for i := 0; i < n; i++ {
		if i%500 == 0 {
			rl := ld.ResourceLogs().AppendEmpty()
			ra := rl.Resource().Attributes()
			ra.PutStr("service.name", fmt.Sprintf("checkout-%d", i/500%2))
			ra.PutStr("host.name", "node-17.eu-west-1")
			ra.PutStr("k8s.namespace.name", "shop")
			sl = rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("access")
		}
		lr := sl.LogRecords().AppendEmpty()
		seq := offset + i
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Duration(seq) * time.Microsecond)))
		lr.SetObservedTimestamp(lr.Timestamp())
		lr.Body().SetStr(fmt.Sprintf("GET /api/cart/%d HTTP/1.1 200 512 \"Mozilla/5.0\" rt=0.012", seq))
		lr.SetSeverityText("INFO")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetTraceID(pcommon.TraceID{byte(seq), byte(seq >> 8), byte(seq >> 16), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
		lr.SetSpanID(pcommon.SpanID{byte(seq), 1, 2, 3, 4, 5, 6, 7})
		a := lr.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("url.path", "/api/cart")
		a.PutDouble("duration_ms", 12.5)
	}
	return ld
}

// encodeBatch runs the exporter's encoding path (document, id, index name)
// and appends the bulk action lines, reusing arena and body.
func encodeBatch(e *osExporter, ld plog.Logs, arena, body []byte) ([]item, []byte, []byte) {
	items, arena, _ := e.encodeLogs(ld, arena[:0])
	body = body[:0]
	for i := range items {
		body = osclient.AppendCreate(body, items[i].index, items[i].id, items[i].doc)
	}
	return items, arena, body
}

// BenchmarkBulkBodyEncoding measures documents/s and bytes/s of turning log
// records into a _bulk body (one op = 1000 records).
func BenchmarkBulkBodyEncoding(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.LogsIndex = "logs-{service.name}-{yyyy.MM.dd}"
	e, err := newExporter(cfg, exportertest.NewNopSettings(metadata.Type), signalLogs)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.shutdown(b.Context()) }()
	const n = 1000
	ld := benchLogs(n, 0)
	_, arena, body := encodeBatch(e, ld, nil, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, arena, body = encodeBatch(e, ld, arena, body)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
}
