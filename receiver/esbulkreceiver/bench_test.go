package esbulkreceiver

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

const benchDocsPerRequest = 1000

// benchBulkBody builds a Filebeat-like bulk body of ~300-byte documents.
func benchBulkBody() ([]byte, int) {
	var b bytes.Buffer
	docBytes := 0
	for i := 0; i < benchDocsPerRequest; i++ {
		b.WriteString(`{"create":{"_index":"logs-app-default"}}` + "\n")
		doc := fmt.Sprintf(`{"@timestamp":"2024-05-01T10:20:%02d.%03dZ","log.level":"info","message":"GET /api/v1/orders/%06d completed in 12ms","service.name":"checkout","trace.id":"0af7651916cd43dd8448eb211c80%04x","span.id":"b7ad6b716920%04x","http":{"method":"GET","status_code":200},"url.path":"/api/v1/orders","user.id":"u-%d"}`,
			i%60, i%1000, i, i%65536, i%65536, i)
		docBytes += len(doc)
		b.WriteString(doc + "\n")
	}
	return b.Bytes(), docBytes / benchDocsPerRequest
}

// BenchmarkBulkIngest measures parsing + normalization + response of a
// 1000-document _bulk request through the handler (no network).
func BenchmarkBulkIngest(b *testing.B) {
	body, docSize := benchBulkBody()
	b.Logf("average document size: %d bytes", docSize)
	tel := componenttestTelemetry(b)
	cfg := createDefaultConfig().(*Config)
	r, err := newReceiver(cfg, tel, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/_bulk", bytes.NewReader(body))
		rec.Body.Reset()
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0, b.N*benchDocsPerRequest)
}

// BenchmarkOTLPJSONDecodeBaseline is the decode step of the OTLP/HTTP JSON
// receiver (plog.JSONUnmarshaler) on the same 1000 records, already
// normalized: the cost es_bulk is compared with.
func BenchmarkOTLPJSONDecodeBaseline(b *testing.B) {
	body, _ := benchBulkBody()
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(createDefaultConfig().(*Config), componenttestTelemetry(b), sink)
	if err != nil {
		b.Fatal(err)
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/_bulk", bytes.NewReader(body)))
	otlpJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(sink.AllLogs()[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(otlpJSON)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	u := &plog.JSONUnmarshaler{}
	for i := 0; i < b.N; i++ {
		if _, err := u.UnmarshalLogs(otlpJSON); err != nil {
			b.Fatal(err)
		}
	}
	reportPerDoc(b, cputime.Process()-cpu0, b.N*benchDocsPerRequest)
}

func componenttestTelemetry(testing.TB) receiver.Settings {
	return receivertest.NewNopSettings(metadata.Type)
}

// reportPerDoc reports wall and CPU cost per document; docs/cpu-s is the
// throughput one fully used core would reach.
func reportPerDoc(b *testing.B, cpu time.Duration, docs int) {
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(docs), "cpu-ns/doc")
	if cpu > 0 {
		b.ReportMetric(float64(docs)/cpu.Seconds(), "docs/cpu-s")
	}
}
