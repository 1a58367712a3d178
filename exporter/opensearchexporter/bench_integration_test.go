package opensearchexporter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// BenchmarkIntegrationExporterVsPlainBulk indexes the same kind of documents
// into one local OpenSearch node, alternating in every iteration between the
// exporter and a plain bulk loader that only POSTs pre-encoded bodies (same
// documents, same ids, same bulk size, same concurrency, no compression).
// It reports both rates and their ratio; the target is ratio >= 0.9.
func BenchmarkIntegrationExporterVsPlainBulk(b *testing.B) {
	srv := backend.OpenSearchFor(b)
	const (
		perOp       = 4000 // documents per loader per iteration
		bulkDocs    = 1000
		concurrency = 2
	)
	prefix := "bench" + time.Now().Format("150405")

	cfg := testConfig(srv.URL)
	cfg.LogsIndex = prefix + "-logs-{yyyy.MM.dd}"
	cfg.DeadLetter.Index = prefix + "-dlq-{yyyy.MM.dd}"
	cfg.IndexTemplate.NamePrefix = prefix
	cfg.IndexTemplate.Replicas = 0
	cfg.ClientConfig.Compression = configcompression.Type("none")
	cfg.Bulk.MaxDocuments = bulkDocs
	set := exportertest.NewNopSettings(metadata.Type)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err = exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	// An encoder with the same settings produces the plain loader's bodies.
	enc, err := newExporter(cfg, set, signalLogs)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = enc.shutdown(context.Background()) }()
	plainIndex := prefix + "-logs-plain"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()

	var expDur, plainDur time.Duration
	offset := 0
	for b.Loop() {
		b.StopTimer()
		var chunks []plog.Logs
		var bodies [][]byte
		for c := 0; c < perOp/bulkDocs; c++ {
			chunks = append(chunks, benchLogs(bulkDocs, offset))
			offset += bulkDocs
			items, _, _ := enc.encodeLogs(benchLogs(bulkDocs, offset), nil)
			offset += bulkDocs
			var body []byte
			for i := range items {
				body = osclient.AppendCreate(body, plainIndex, items[i].id, items[i].doc)
			}
			bodies = append(bodies, body)
		}
		b.StartTimer()

		start := time.Now()
		runConcurrently(concurrency, len(chunks), func(i int) {
			if err := exp.ConsumeLogs(context.Background(), chunks[i]); err != nil {
				b.Error(err)
			}
		})
		expDur += time.Since(start)

		start = time.Now()
		runConcurrently(concurrency, len(bodies), func(i int) {
			resp, err := client.Post(srv.URL+"/_bulk?filter_path=errors", "application/x-ndjson", bytes.NewReader(bodies[i]))
			if err != nil {
				b.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if !bytes.Contains(out, []byte(`"errors":false`)) {
				b.Errorf("plain bulk: %s", out)
			}
		})
		plainDur += time.Since(start)
	}
	n := float64(b.N * perOp)
	expRate, plainRate := n/expDur.Seconds(), n/plainDur.Seconds()
	b.ReportMetric(expRate, "exporter_docs/s")
	b.ReportMetric(plainRate, "plain_docs/s")
	b.ReportMetric(expRate/plainRate, "ratio")
}

// runConcurrently calls f(0..n-1) on `workers` goroutines.
func runConcurrently(workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
