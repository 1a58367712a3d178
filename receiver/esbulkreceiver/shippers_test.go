package esbulkreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"github.com/opensearch-project/opensearch-go/v4/opensearchutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
)

// shipperRequest is one HTTP request exactly as a shipper sends it.
type shipperRequest struct {
	method, path, contentType string
	gzip                      bool
	body                      string
	wantStatus                int
}

// wantRecord is what a shipped document must become.
type wantRecord struct {
	body, severity, service, index string
	timestamp                      time.Time
	attrs                          map[string]any
}

// Bodies follow what each shipper sends (see the context notes on shippers:
// request paths, Content-Type, action lines, document shapes).
func TestRealShipperPayloads(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 20, 30, 123e6, time.UTC)
	tests := []struct {
		name     string
		requests []shipperRequest
		want     []wantRecord
	}{
		{
			name: "filebeat 8",
			requests: []shipperRequest{
				{method: "GET", path: "/", wantStatus: 200},
				{method: "GET", path: "/_license?human=false", wantStatus: 200},
				{method: "GET", path: "/_ilm/policy/filebeat", wantStatus: 200},
				{method: "HEAD", path: "/_index_template/filebeat-8.17.0", wantStatus: 200},
				{method: "GET", path: "/_data_stream/filebeat-8.17.0", wantStatus: 200},
				{
					method: "POST", path: "/_bulk?filter_path=errors,items.*.error,items.*.status", contentType: "application/json; charset=UTF-8", gzip: true, wantStatus: 200,
					body: `{"create":{"_index":"filebeat-8.17.0"}}` + "\n" +
						`{"@timestamp":"2024-05-01T10:20:30.123Z","log":{"offset":1234,"file":{"path":"/var/log/app.log"}},"message":"GET /health 200","input":{"type":"filestream"},"ecs":{"version":"8.0.0"},"host":{"name":"web-1"},"agent":{"type":"filebeat","version":"8.17.0","name":"web-1"}}` + "\n",
				},
			},
			want: []wantRecord{{body: "GET /health 200", index: "filebeat-8.17.0", timestamp: ts, attrs: map[string]any{
				"log": map[string]any{"offset": int64(1234), "file": map[string]any{"path": "/var/log/app.log"}}, "input": map[string]any{"type": "filestream"},
			}}},
		},
		{
			name: "fluent bit es output",
			requests: []shipperRequest{{
				method: "POST", path: "/_bulk", contentType: "application/x-ndjson", wantStatus: 200,
				body: `{"create":{"_index":"fluent-bit","_type":"_doc"}}` + "\n" +
					`{"@timestamp":"2024-05-01T10:20:30.123Z","log":"E0501 payment failed\n","stream":"stderr","kubernetes":{"pod_name":"pay-0","namespace_name":"shop","labels":{"app":"payments"}}}` + "\n",
			}},
			want: []wantRecord{{body: "E0501 payment failed\n", index: "fluent-bit", timestamp: ts, attrs: map[string]any{"stream": "stderr"}}},
		},
		{
			name: "logstash 8",
			requests: []shipperRequest{
				{method: "HEAD", path: "/", wantStatus: 200},
				{method: "GET", path: "/", wantStatus: 200},
				{method: "GET", path: "/_license", wantStatus: 200},
				{method: "HEAD", path: "/_index_template/ecs-logstash", wantStatus: 200},
				{
					method: "POST", path: "/_bulk?filter_path=errors,items.*.error,items.*.status", contentType: "application/json", gzip: true, wantStatus: 200,
					body: `{"index":{"_id":null,"_index":"logstash-2024.05.01","routing":null}}` + "\n" +
						`{"@timestamp":"2024-05-01T10:20:30.123Z","@version":"1","message":"user login","host":{"name":"ls-1"},"event":{"original":"user login"},"level":"INFO","service":"auth"}` + "\n",
				},
			},
			want: []wantRecord{{body: "user login", severity: "INFO", service: "auth", index: "logstash-2024.05.01", timestamp: ts, attrs: map[string]any{"@version": "1"}}},
		},
		{
			name: "rsyslog omelasticsearch default template (8.2302, _type events)",
			requests: []shipperRequest{
				{method: "GET", path: "/_cat/health", wantStatus: 200},
				{
					method: "POST", path: "/_bulk", contentType: "application/json; charset=utf-8", wantStatus: 200,
					body: `{"index":{"_index": "system","_type":"events"}}` + "\n" +
						`{"timestamp":"2024-05-01T10:20:30.123+00:00","message":" disk full","host":"db-1","severity":"err","facility":"daemon","syslogtag":"backup[42]:"}` + "\n",
				},
			},
			want: []wantRecord{{body: " disk full", severity: "err", index: "system", timestamp: ts, attrs: map[string]any{"host": "db-1", "facility": "daemon", "syslogtag": "backup[42]:"}}},
		},
		{
			name: "rsyslog jsonf template with esVersion.major=8",
			requests: []shipperRequest{{
				method: "POST", path: "/_bulk", contentType: "application/json; charset=utf-8", wantStatus: 200,
				body: `{"index":{"_index":"logs-test"}}` + "\n" + `{"message":"hello from imfile", "@timestamp":"2024-05-01T10:20:30.123456+00:00"}` + "\n",
			}},
			want: []wantRecord{{body: "hello from imfile", index: "logs-test", timestamp: ts.Add(456 * time.Microsecond)}},
		},
		{
			name: "syslog-ng elasticsearch-http",
			requests: []shipperRequest{{
				method: "POST", path: "/_bulk", contentType: "application/x-ndjson", wantStatus: 200,
				body: `{"index":{"_index":"logs-sng"}}` + "\n" +
					`{"PROGRAM":"app","PRIORITY":"notice","MESSAGE":"started","HOST":"h1","FACILITY":"user","@timestamp":"2024-05-01T10:20:30.123+00:00"}` + "\n",
			}},
			want: []wantRecord{{body: "started", severity: "notice", index: "logs-sng", timestamp: ts, attrs: map[string]any{"PROGRAM": "app", "HOST": "h1"}}},
		},
		{
			name: "vector elasticsearch sink",
			requests: []shipperRequest{
				{method: "GET", path: "/_cluster/health", wantStatus: 200},
				{method: "GET", path: "/", wantStatus: 200},
				{
					method: "POST", path: "/_bulk?timeout=60s", contentType: "application/x-ndjson", gzip: true, wantStatus: 200,
					body: `{"index":{"_index":"vector-2024.05.01"}}` + "\n" +
						`{"file":"/var/log/x.log","host":"v1","message":"{\"a\":1}","source_type":"file","timestamp":"2024-05-01T10:20:30.123000000Z"}` + "\n",
				},
			},
			want: []wantRecord{{body: `{"a":1}`, index: "vector-2024.05.01", timestamp: ts, attrs: map[string]any{"source_type": "file", "host": "v1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			_, url := startServer(t, sink, nil)
			for _, sr := range tt.requests {
				body := []byte(sr.body)
				req, err := http.NewRequest(sr.method, url+sr.path, nil)
				require.NoError(t, err)
				if sr.gzip {
					var buf bytes.Buffer
					gw := gzip.NewWriter(&buf)
					_, _ = gw.Write(body)
					require.NoError(t, gw.Close())
					req.Header.Set("Content-Encoding", "gzip")
					req.Header.Set("X-Elastic-Uncompressed-Request-Length", "1")
					body = buf.Bytes()
				}
				if len(body) > 0 {
					req, err = http.NewRequest(sr.method, url+sr.path, bytes.NewReader(body))
					require.NoError(t, err)
					if sr.gzip {
						req.Header.Set("Content-Encoding", "gzip")
					}
				}
				if sr.contentType != "" {
					req.Header.Set("Content-Type", sr.contentType)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				var out bytes.Buffer
				_, _ = out.ReadFrom(resp.Body)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, sr.wantStatus, resp.StatusCode, "%s %s: %s", sr.method, sr.path, out.String())
				assert.Equal(t, "Elasticsearch", resp.Header.Get("X-Elastic-Product"))
				if strings.Contains(sr.path, "_bulk") {
					assert.Contains(t, out.String(), `"errors":false`)
				}
			}
			records, resources := allRecords(sink)
			require.Len(t, records, len(tt.want))
			for i, w := range tt.want {
				lr := records[i]
				assert.Equal(t, w.body, lr.Body().AsString())
				assert.Equal(t, w.severity, lr.SeverityText())
				assert.Equal(t, w.timestamp, lr.Timestamp().AsTime())
				idx, _ := lr.Attributes().Get(AttrIndex)
				assert.Equal(t, w.index, idx.Str())
				svc, _ := resources[i].Get("service.name")
				assert.Equal(t, w.service, svc.Str())
				for k, v := range w.attrs {
					got, ok := lr.Attributes().Get(k)
					if assert.True(t, ok, "attribute %s", k) {
						assert.Equal(t, v, got.AsRaw(), "attribute %s", k)
					}
				}
			}
		})
	}
}

// TestOpenSearchGoBulkIndexer ships through the official opensearch-go bulk
// indexer, with the pipeline refusing the first requests: every document must
// arrive exactly once and every item must be reported successful.
func TestOpenSearchGoBulkIndexer(t *testing.T) {
	const docs = 2000
	sink := new(consumertest.LogsSink)
	var refusals atomic.Int32
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if refusals.Add(1) <= 3 {
			return assert.AnError // retryable: answered 429
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	_, url := startServer(t, next, nil)

	discover := false
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses:            []string{url},
		RetryOnStatus:        []int{429, 502, 503, 504},
		MaxRetries:           10,
		RetryBackoff:         func(int) time.Duration { return time.Millisecond },
		CompressRequestBody:  true,
		DiscoverNodesOnStart: &discover,
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, client.Close()) }() // stops the client's health pollers
	var succeeded, failed atomic.Int64
	bi, err := opensearchutil.NewBulkIndexer(opensearchutil.BulkIndexerConfig{
		Client: client, Index: "go-client", NumWorkers: 2, FlushBytes: 64 << 10, FlushInterval: time.Hour,
	})
	require.NoError(t, err)
	for i := 0; i < docs; i++ {
		require.NoError(t, bi.Add(context.Background(), opensearchutil.BulkIndexerItem{
			Action: "create",
			Body:   strings.NewReader(`{"@timestamp":"2024-05-01T10:20:30Z","message":"doc","level":"info","seq":` + itoa(i) + `}`),
			OnSuccess: func(context.Context, opensearchutil.BulkIndexerItem, opensearchapi.BulkRespItem) {
				succeeded.Add(1)
			},
			OnFailure: func(_ context.Context, _ opensearchutil.BulkIndexerItem, res opensearchapi.BulkRespItem, err error) {
				failed.Add(1)
				t.Logf("failure: %d %v", res.Status, err)
			},
		}))
	}
	require.NoError(t, bi.Close(context.Background()))
	assert.Equal(t, int64(docs), succeeded.Load())
	assert.Zero(t, failed.Load())
	records, _ := allRecords(sink)
	require.Len(t, records, docs, "each document delivered exactly once")
	seen := make(map[int64]bool, docs)
	for _, lr := range records {
		seq, _ := lr.Attributes().Get("seq")
		assert.False(t, seen[seq.Int()], "duplicate seq %d", seq.Int())
		seen[seq.Int()] = true
	}
	assert.Greater(t, refusals.Load(), int32(3), "the refusals happened and were retried")
}

func itoa(i int) string { return strconv.Itoa(i) }
