package esbulkreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadatatest"
)

// blockingConsumer holds every ConsumeLogs call until release is closed, so
// that requests stay in flight, then forwards to sink.
type blockingConsumer struct {
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int64
	sink    consumertest.LogsSink
}

func newBlockingConsumer() *blockingConsumer {
	return &blockingConsumer{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blockingConsumer) consumer(t *testing.T) consumer.Logs {
	c, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		b.calls.Add(1)
		b.entered <- struct{}{}
		<-b.release
		return b.sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	return c
}

func (b *blockingConsumer) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the consumer")
	}
}

// startBudgetServer runs a receiver with max_in_flight_bytes = limit behind
// its real HTTP server (decompression included).
func startBudgetServer(t *testing.T, next consumer.Logs, limit int64) (*esBulkReceiver, string, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.MaxInFlightBytes = limit
	r, err := newReceiver(cfg, metadatatest.NewSettings(tel), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, "http://" + r.addr.String() + "/_bulk", tel
}

// budgetBody is a bulk body of n documents of about 1 KiB whose messages
// start with tag.
func budgetBody(tag string, n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"%s %d %s\"}\n", tag, i, strings.Repeat("x", 1000))
	}
	return b.Bytes()
}

// budgetClient does not wait forever for a request the pipeline holds.
var budgetClient = &http.Client{Timeout: 5 * time.Second}

type budgetResult struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// sendBody posts body; chunked hides its length (no Content-Length).
func sendBody(url string, body []byte, encoding string, chunked bool) budgetResult {
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, err := http.NewRequest(http.MethodPost, url, rd)
	if err != nil {
		return budgetResult{err: err}
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := budgetClient.Do(req)
	if err != nil {
		return budgetResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return budgetResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b), err: err}
}

func sendAsync(url string, body []byte) <-chan budgetResult {
	ch := make(chan budgetResult, 1)
	go func() { ch <- sendBody(url, body, "", false) }()
	return ch
}

func awaitResult(t *testing.T, ch <-chan budgetResult) budgetResult {
	t.Helper()
	select {
	case res := <-ch:
		require.NoError(t, res.err)
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		return budgetResult{}
	}
}

func assertInFlightRefused(t *testing.T, res budgetResult) {
	t.Helper()
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusTooManyRequests, res.status, res.body)
	assert.Equal(t, "5", res.retryAfter)
	var e struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
		Status int `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &e), res.body)
	assert.Equal(t, errTypeRejected, e.Error.Type)
	assert.Equal(t, http.StatusTooManyRequests, e.Status)
}

func inFlightRefusals(t *testing.T, tel *componenttest.Telemetry) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_es_bulk_in_flight_refusals")
	if err != nil {
		return 0
	}
	return m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
}

func bodySizeRead(t *testing.T, tel *componenttest.Telemetry) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_es_bulk_request_body_size")
	require.NoError(t, err)
	return m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
}

// While one request holds most of max_in_flight_bytes in the pipeline, others
// (with or without Content-Length) get 429 with Retry-After and nothing of
// them is forwarded; once it is answered the budget is free again.
func TestInFlightBudgetRefusesConcurrentRequests(t *testing.T) {
	bc := newBlockingConsumer()
	r, url, tel := startBudgetServer(t, bc.consumer(t), 100<<10)
	t.Cleanup(func() {
		select {
		case <-bc.release:
		default:
			close(bc.release)
		}
	})

	a := budgetBody("A", 60) // ~61 KiB
	first := sendAsync(url, a)
	bc.waitEntered(t)

	assertInFlightRefused(t, sendBody(url, budgetBody("B", 60), "", false))
	assertInFlightRefused(t, sendBody(url, budgetBody("C", 60), "", true))
	assert.Equal(t, int64(1), bc.calls.Load(), "refused requests do not reach the pipeline")
	assert.Equal(t, int64(2), inFlightRefusals(t, tel))

	close(bc.release)
	assert.Equal(t, http.StatusOK, awaitResult(t, first).status)
	for _, rl := range bc.sink.AllLogs() {
		for i := 0; i < rl.ResourceLogs().Len(); i++ {
			recs := rl.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < recs.Len(); j++ {
				assert.True(t, strings.HasPrefix(recs.At(j).Body().Str(), "A "), "only the first request is forwarded")
			}
		}
	}
	assert.Equal(t, 60, bc.sink.LogRecordCount())
	assertBudgetReleased(t, r)

	// The budget is free again: the same requests now go through.
	res := sendBody(url, budgetBody("D", 60), "", false)
	assert.Equal(t, http.StatusOK, res.status, res.body)
	assertBudgetReleased(t, r)
	res = sendBody(url, budgetBody("E", 60), "", true)
	assert.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, 180, bc.sink.LogRecordCount())
	assert.Equal(t, int64(2), inFlightRefusals(t, tel))
	assertBudgetReleased(t, r)
}

// A request larger than the whole budget (but within max_request_body_size)
// goes through when nothing else is in flight, so it is never refused for good.
func TestInFlightBudgetLoneRequestLargerThanBudget(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			r, url, tel := startBudgetServer(t, sink, 16<<10)
			res := sendBody(url, budgetBody("big", 1000), "", chunked) // ~1 MiB
			require.NoError(t, res.err)
			assert.Equal(t, http.StatusOK, res.status, res.body)
			assert.Equal(t, 1000, sink.LogRecordCount())
			assert.Zero(t, inFlightRefusals(t, tel))
			assertBudgetReleased(t, r)
		})
	}
}

// A compressed body is accounted by its decompressed bytes: small on the wire
// (its Content-Length fits), it is refused once what it inflates to does not
// fit beside a request in flight, and reading stops there.
func TestInFlightBudgetCountsDecompressedBytes(t *testing.T) {
	bc := newBlockingConsumer()
	r, url, tel := startBudgetServer(t, bc.consumer(t), 100<<10)
	t.Cleanup(func() {
		select {
		case <-bc.release:
		default:
			close(bc.release)
		}
	})
	first := sendAsync(url, budgetBody("A", 10)) // ~10 KiB
	bc.waitEntered(t)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(budgetBody("B", 1000)) // ~1 MiB decompressed
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.Less(t, gz.Len(), 64<<10, "fits the budget on the wire")

	assertInFlightRefused(t, sendBody(url, gz.Bytes(), "gzip", false))
	assert.Equal(t, int64(1), bc.calls.Load(), "nothing of the refused request is forwarded")
	assert.Equal(t, int64(1), inFlightRefusals(t, tel))
	assert.Less(t, bodySizeRead(t, tel), int64(256<<10), "reading stops near the budget")

	close(bc.release)
	assert.Equal(t, http.StatusOK, awaitResult(t, first).status)
	assert.Equal(t, 10, bc.sink.LogRecordCount())
	assertBudgetReleased(t, r)

	// Alone, the same compressed request goes through.
	res := sendBody(url, gz.Bytes(), "gzip", false)
	assert.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, 1010, bc.sink.LogRecordCount())
}

// The document API shares the budget.
func TestInFlightBudgetDocumentAPI(t *testing.T) {
	bc := newBlockingConsumer()
	r, url, tel := startBudgetServer(t, bc.consumer(t), 100<<10)
	t.Cleanup(func() {
		select {
		case <-bc.release:
		default:
			close(bc.release)
		}
	})
	first := sendAsync(url, budgetBody("A", 90))
	bc.waitEntered(t)
	doc := []byte(`{"message":"` + strings.Repeat("y", 20<<10) + `"}`)
	assertInFlightRefused(t, sendBody(strings.TrimSuffix(url, "/_bulk")+"/logs/_doc", doc, "", false))
	assert.Equal(t, int64(1), inFlightRefusals(t, tel))
	close(bc.release)
	assert.Equal(t, http.StatusOK, awaitResult(t, first).status)
	assertBudgetReleased(t, r)
	res := sendBody(strings.TrimSuffix(url, "/_bulk")+"/logs/_doc", doc, "", false)
	assert.Equal(t, http.StatusCreated, res.status, res.body)
}

// assertBudgetReleased waits for the reservation to be given back: it is
// released when the handler returns, just after the response was written, so
// the client may read its answer first.
func assertBudgetReleased(t *testing.T, r *esBulkReceiver) {
	t.Helper()
	assert.Eventually(t, func() bool { return r.budget.used.Load() == 0 }, 5*time.Second, time.Millisecond,
		"the reservation is released once answered")
}
