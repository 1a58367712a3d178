package esbulkreceiver

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadatatest"
)

// newTestReceiver builds a receiver whose handler is driven directly.
func newTestReceiver(t *testing.T, next consumer.Logs) (*esBulkReceiver, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	r, err := newReceiver(cfg, metadatatest.NewSettings(tel), next)
	require.NoError(t, err)
	r.now = func() time.Time { return time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC) }
	return r, tel
}

// startServer runs the receiver behind its real confighttp server.
func startServer(t *testing.T, next consumer.Logs, mutate func(*Config)) (*esBulkReceiver, string) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	if mutate != nil {
		mutate(cfg)
	}
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, "http://" + r.addr.String()
}

func do(t *testing.T, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type bulkResponse struct {
	Took   *int64                      `json:"took"`
	Errors bool                        `json:"errors"`
	Items  []map[string]map[string]any `json:"items"`
}

func decodeBulk(t *testing.T, body []byte) bulkResponse {
	t.Helper()
	var resp bulkResponse
	require.NoError(t, json.Unmarshal(body, &resp), string(body))
	return resp
}

// itemStatuses returns "op:status" per item, in order.
func itemStatuses(resp bulkResponse) []string {
	var out []string
	for _, item := range resp.Items {
		for op, v := range item {
			out = append(out, op+":"+jsonNumber(v["status"]))
		}
	}
	return out
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// allRecords flattens a sink's logs into records with their resources.
func allRecords(sink *consumertest.LogsSink) (records []plog.LogRecord, resources []pcommon.Map) {
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					records = append(records, lrs.At(k))
					resources = append(resources, rl.Resource().Attributes())
				}
			}
		}
	}
	return records, resources
}

func TestBulkMixedItems(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, tel := newTestReceiver(t, sink)
	body := strings.Join([]string{
		`{"create":{"_index":"logs-a","_id":"doc-1"}}`,
		`{"@timestamp":"2024-05-01T10:20:30Z","message":"first","service":{"name":"checkout"},"level":"info"}`,
		`{"index":{"_index":"logs-a"}}`,
		`{"message":"second","service.name":"checkout"}`,
		`{"index":{}}`,
		`{"message":"no index"}`,
		`{"create":{"_index":"logs-b"}}`,
		`{"message": broken json`,
		`{"delete":{"_index":"logs-a","_id":"doc-1"}}`,
		`{"update":{"_index":"logs-a","_id":"doc-1"}}`,
		`{"doc":{"message":"x"}}`,
		`not an action`,
		`{"message":"orphan"}`,
		`{"index":{"_index":"logs-b","_type":"_doc"}}`,
		`{"msg":"third","app":"billing"}`,
	}, "\n") + "\n"
	rec := do(t, r, http.MethodPost, "/_bulk", body, "Content-Type", "application/x-ndjson")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "Elasticsearch", rec.Header().Get("X-Elastic-Product"))
	resp := decodeBulk(t, rec.Body.Bytes())
	assert.True(t, resp.Errors)
	assert.Equal(t, []string{"create:201", "index:201", "index:400", "create:400", "delete:400", "update:400", "index:400", "index:201"}, itemStatuses(resp))
	assert.Equal(t, "doc-1", resp.Items[0]["create"]["_id"])
	assert.Len(t, resp.Items[1]["index"]["_id"], 20, "generated ids look like Elasticsearch's")
	errObj := resp.Items[3]["create"]["error"].(map[string]any)
	assert.Equal(t, "mapper_parsing_exception", errObj["type"])
	assert.Equal(t, "logs-b", errObj["index"])
	assert.Equal(t, "action_request_validation_exception", resp.Items[2]["index"]["error"].(map[string]any)["type"])

	records, resources := allRecords(sink)
	require.Len(t, records, 3)
	assert.Equal(t, "first", records[0].Body().Str())
	assert.Equal(t, plog.SeverityNumberInfo, records[0].SeverityNumber())
	idx, _ := records[0].Attributes().Get(AttrIndex)
	assert.Equal(t, "logs-a", idx.Str())
	id, _ := records[0].Attributes().Get(AttrDocumentID)
	assert.Equal(t, "doc-1", id.Str())
	_, hasID := records[1].Attributes().Get(AttrDocumentID)
	assert.False(t, hasID, "no id attribute when the shipper sent none")
	assert.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), records[1].ObservedTimestamp().AsTime())
	svc, _ := resources[0].Get("service.name")
	assert.Equal(t, "checkout", svc.Str())
	svc, _ = resources[2].Get("service.name")
	assert.Equal(t, "billing", svc.Str())
	assert.Equal(t, 2, sink.AllLogs()[0].ResourceLogs().Len(), "records grouped by service")

	metadatatest.AssertEqualEsBulkDocumentsAccepted(t, tel, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualEsBulkDocumentsRejected(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", reasonInvalidMetadata)), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("reason", reasonMalformedDocument)), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("reason", reasonUnsupportedAction)), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("reason", reasonMalformedAction)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualEsBulkRequests(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("endpoint", endpointBulk), attribute.Int("http.response.status_code", 200)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualEsBulkRequestBodySize(t, tel, []metricdata.DataPoint[int64]{{Value: int64(len(body))}}, metricdatatest.IgnoreTimestamp())
}

func TestBulkIndexFromPathAndPUT(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, _ := newTestReceiver(t, sink)
	rec := do(t, r, http.MethodPut, "/app-logs/_bulk", "{\"index\":{}}\n{\"message\":\"m\"}")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decodeBulk(t, rec.Body.Bytes())
	assert.False(t, resp.Errors)
	assert.Equal(t, "app-logs", resp.Items[0]["index"]["_index"])
	records, _ := allRecords(sink)
	require.Len(t, records, 1)
	idx, _ := records[0].Attributes().Get(AttrIndex)
	assert.Equal(t, "app-logs", idx.Str())
}

func TestBulkBackpressure(t *testing.T) {
	r, tel := newTestReceiver(t, consumertest.NewErr(errors.New("sending queue is full")))
	body := "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"b\"}\n{\"create\":{\"_index\":\"i\"}}\nbad\n"
	rec := do(t, r, http.MethodPost, "/_bulk", body)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.Equal(t, "Elasticsearch", rec.Header().Get("X-Elastic-Product"))
	var errResp struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
		Status int `json:"status"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &errResp))
	assert.Equal(t, 429, errResp.Status)
	assert.Equal(t, "es_rejected_execution_exception", errResp.Error.Type)
	assert.Contains(t, errResp.Error.Reason, "sending queue is full")
	metadatatest.AssertEqualEsBulkDocumentsRefused(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	_, err := tel.GetMetric("otelcol_es_bulk_documents_accepted")
	assert.Error(t, err, "nothing may be reported accepted")
	_, err = tel.GetMetric("otelcol_es_bulk_documents_rejected")
	assert.Error(t, err, "the malformed item comes back with the retry; it is counted then")
}

func TestBulkPermanentPipelineError(t *testing.T) {
	r, tel := newTestReceiver(t, consumertest.NewErr(consumererror.NewPermanent(errors.New("bad data"))))
	rec := do(t, r, http.MethodPost, "/_bulk", "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n")
	require.Equal(t, http.StatusOK, rec.Code)
	resp := decodeBulk(t, rec.Body.Bytes())
	assert.True(t, resp.Errors)
	assert.Equal(t, []string{"create:400"}, itemStatuses(resp))
	metadatatest.AssertEqualEsBulkDocumentsRejected(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", reasonPipelineRejected)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestBulkRecoversAfterRefusal(t *testing.T) {
	var fail bool
	sink := new(consumertest.LogsSink)
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if fail {
			return errors.New("busy")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	r, _ := newTestReceiver(t, next)
	body := "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n"
	fail = true
	assert.Equal(t, http.StatusTooManyRequests, do(t, r, http.MethodPost, "/_bulk", body).Code)
	assert.Equal(t, 0, sink.LogRecordCount())
	fail = false
	assert.Equal(t, http.StatusOK, do(t, r, http.MethodPost, "/_bulk", body).Code)
	assert.Equal(t, 1, sink.LogRecordCount(), "the retried request is delivered once")
}

func TestBulkFilterPath(t *testing.T) {
	r, _ := newTestReceiver(t, new(consumertest.LogsSink))
	body := "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n{\"create\":{\"_index\":\"i\"}}\n[1]\n"
	rec := do(t, r, http.MethodPost, "/_bulk?filter_path=errors,items.*.error,items.*.status", body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse: JSON document is not an object (found array)","index":"i"}}}]}`, rec.Body.String())

	rec = do(t, r, http.MethodPost, "/_bulk?filter_path=took,items.*._id,-weird", body)
	resp := decodeBulk(t, rec.Body.Bytes())
	assert.NotNil(t, resp.Took, "unknown filter falls back to the full response")
	assert.Len(t, resp.Items, 2)
}

func TestBulkEmptyBody(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, _ := newTestReceiver(t, sink)
	rec := do(t, r, http.MethodPost, "/_bulk", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"took":0,"errors":false,"items":[]}`, rec.Body.String())
	assert.Empty(t, sink.AllLogs(), "nothing is sent downstream for an empty request")
}

func TestDocumentEndpoints(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, tel := newTestReceiver(t, sink)
	for _, tc := range []struct{ method, path, id string }{
		{http.MethodPost, "/logs/_doc", ""},
		{http.MethodPut, "/logs/_doc/a1", "a1"},
		{http.MethodPost, "/logs/_doc/a2", "a2"},
		{http.MethodPut, "/logs/_create/a3", "a3"},
		{http.MethodPost, "/logs/_create/a4", "a4"},
	} {
		rec := do(t, r, tc.method, tc.path, `{"message":"m","level":"warn"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		var resp map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		assert.Equal(t, "logs", resp["_index"])
		assert.Equal(t, "created", resp["result"])
		if tc.id != "" {
			assert.Equal(t, tc.id, resp["_id"])
		} else {
			assert.Len(t, resp["_id"], 20)
		}
	}
	assert.Equal(t, 5, sink.LogRecordCount())

	rec := do(t, r, http.MethodPost, "/logs/_doc", `{"message":`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "mapper_parsing_exception")
	rec = do(t, r, http.MethodGet, "/logs/_doc/a1", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	rec = do(t, r, http.MethodPut, "/logs/_doc/"+strings.Repeat("x", 513), `{}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, 5, sink.LogRecordCount())
	metadatatest.AssertEqualEsBulkDocumentsAccepted(t, tel, []metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
}

func TestDocumentBackpressure(t *testing.T) {
	r, _ := newTestReceiver(t, consumertest.NewErr(errors.New("full")))
	rec := do(t, r, http.MethodPost, "/logs/_doc", `{"message":"m"}`)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
}

func TestProbes(t *testing.T) {
	r, _ := newTestReceiver(t, consumertest.NewNop())
	tests := []struct {
		method, path string
		status       int
		contains     string
	}{
		{http.MethodGet, "/", 200, `"number":"8.17.0"`},
		{http.MethodHead, "/", 200, ``},
		{http.MethodGet, "/_license?human=false", 200, `"status":"active"`},
		{http.MethodGet, "/_xpack", 200, `"license"`},
		{http.MethodGet, "/_cluster/health", 200, `"status":"green"`},
		{http.MethodGet, "/_cat/health", 200, ` sluice green `},
		{http.MethodGet, "/_cat/health?format=json", 200, `"status":"green"`},
		{http.MethodHead, "/_index_template/filebeat-8.17.0", 200, ``},
		{http.MethodGet, "/_index_template/logs", 200, `"index_templates"`},
		{http.MethodPut, "/_index_template/logs", 200, `"acknowledged":true`},
		{http.MethodGet, "/_template/logstash", 200, `"logstash"`},
		{http.MethodPut, "/_component_template/c", 200, `"acknowledged":true`},
		{http.MethodGet, "/_ilm/policy/filebeat", 200, `"phases"`},
		{http.MethodPut, "/_ilm/policy/filebeat", 200, `"acknowledged":true`},
		{http.MethodGet, "/_plugins/_ism/policies/logs", 200, `"policy_id":"logs"`},
		{http.MethodGet, "/_data_stream/logs-app-default", 200, `"data_streams"`},
		{http.MethodPut, "/_data_stream/logs-app-default", 200, `"acknowledged":true`},
		{http.MethodGet, "/_nodes/http", 200, `"publish_address"`},
		{http.MethodHead, "/logs-2024", 200, ``},
		{http.MethodPut, "/logs-2024", 200, `"index":"logs-2024"`},
		{http.MethodGet, "/_unknown/thing", 400, `no handler found for uri [/_unknown/thing] and method [GET]`},
		{http.MethodGet, "/_bulk", 405, `allowed: [POST, PUT]`},
		{http.MethodDelete, "/", 405, `allowed: [GET, HEAD]`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := do(t, r, tt.method, tt.path, `{}`)
			assert.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, "Elasticsearch", rec.Header().Get("X-Elastic-Product"))
			assert.Contains(t, rec.Body.String(), tt.contains)
		})
	}
	var info struct {
		Version struct {
			Number      string `json:"number"`
			BuildFlavor string `json:"build_flavor"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	require.NoError(t, json.Unmarshal(do(t, r, http.MethodGet, "/", "").Body.Bytes(), &info))
	assert.Equal(t, "default", info.Version.BuildFlavor)
	assert.Equal(t, "You Know, for Search", info.Tagline)
}

func TestServerGzipDeflateAndLimits(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, url := startServer(t, sink, func(c *Config) { c.ServerConfig.MaxRequestBodySize = 1 << 20 })
	body := []byte(strings.Repeat("{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"compressed\"}\n", 100))

	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(body)
	require.NoError(t, gw.Close())
	resp := post(t, url+"/_bulk", gz.Bytes(), "gzip")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 100, sink.LogRecordCount())

	var zl bytes.Buffer
	zw := zlib.NewWriter(&zl)
	_, _ = zw.Write(body)
	require.NoError(t, zw.Close())
	resp = post(t, url+"/_bulk", zl.Bytes(), "deflate")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 200, sink.LogRecordCount())

	big := bytes.Repeat([]byte("{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"plain\"}\n"), (1<<20)/40+1)
	resp = post(t, url+"/_bulk", big, "")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "uncompressed body over the limit")
	assert.Equal(t, 200, sink.LogRecordCount(), "nothing of an oversized request is forwarded")

	resp = post(t, url+"/_bulk", []byte("not gzip at all"), "gzip")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp = post(t, url+"/_bulk", body, "br")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "Elasticsearch", resp.Header.Get("X-Elastic-Product"))
	assert.Equal(t, 200, sink.LogRecordCount())
}

// TestDecompressionBomb: a small gzip body that inflates past
// max_request_body_size is refused with 413 after reading about the limit.
func TestDecompressionBomb(t *testing.T) {
	// A gzip stream may hold several members; repeating one 1 MiB member
	// 64 times makes a 64 MiB body cheaply.
	var member bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	line := []byte("{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"" + strings.Repeat("A", 4000) + "\"}\n")
	for written := 0; written < 1<<20; written += len(line) {
		_, _ = gw.Write(line)
	}
	require.NoError(t, gw.Close())
	gz := bytes.Repeat(member.Bytes(), 64)
	require.Less(t, len(gz), 2<<20, "the bomb is small on the wire")
	assertBombRefused(t, gz, "gzip")
}

func post(t *testing.T, url string, body []byte, encoding string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp
}

func TestLifecycle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()), "shutdown without start")

	r, err = newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	resp, err := http.Get("http://" + r.addr.String() + "/")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()), "second shutdown")
	assert.Error(t, r.Start(context.Background(), componenttest.NewNopHost()), "no restart after shutdown")

	busy := createDefaultConfig().(*Config)
	busy.ServerConfig.NetAddr.Endpoint = r.addr.String()
	holder, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, holder.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, holder.Shutdown(context.Background())) }()
	busy.ServerConfig.NetAddr.Endpoint = holder.addr.String()
	clash, err := newReceiver(busy, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, clash.Start(context.Background(), componenttest.NewNopHost()), "listen on")
	require.NoError(t, clash.Shutdown(context.Background()))
}

func TestBulkRejectionReasons(t *testing.T) {
	r, tel := newTestReceiver(t, new(consumertest.LogsSink))
	body := "{\"index\":{\"_index\":\"i\",\"_id\":{\"x\":1}}}\n{\"m\":1}\n{\"index\":{\"_index\":[1]}}\n{\"m\":2}\n{\"create\":{\"_index\":\"i\"}}\n"
	rec := do(t, r, http.MethodPost, "/_bulk", body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []string{"index:400", "index:400", "create:400"}, itemStatuses(decodeBulk(t, rec.Body.Bytes())))
	metadatatest.AssertEqualEsBulkDocumentsRejected(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", reasonInvalidMetadata)), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("reason", reasonMissingDocument)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

// Index and id come from the action line or the URL path, not the document:
// invalid UTF-8 there is replaced by U+FFFD too.
func TestInvalidUTF8InIndexAndIDReplaced(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, _ := newTestReceiver(t, sink)
	rec := do(t, r, http.MethodPost, "/_bulk", "{\"index\":{\"_index\":\"logs-\xff\",\"_id\":\"id-\xfe\"}}\n{\"message\":\"m\"}\n")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = do(t, r, http.MethodPost, "/path%FFindex/_bulk", "{\"index\":{}}\n{\"message\":\"m\"}\n")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = do(t, r, http.MethodPut, "/doc%FFindex/_doc/id%FE", `{"message":"m"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	records, _ := allRecords(sink)
	require.Len(t, records, 3)
	want := []struct{ index, id string }{
		{"logs-\uFFFD", "id-\uFFFD"},
		{"path\uFFFDindex", ""},
		{"doc\uFFFDindex", "id\uFFFD"},
	}
	for i, w := range want {
		idx, _ := records[i].Attributes().Get(AttrIndex)
		assert.Equal(t, w.index, idx.Str(), "record %d", i)
		id, ok := records[i].Attributes().Get(AttrDocumentID)
		if w.id == "" {
			assert.False(t, ok)
			continue
		}
		assert.Equal(t, w.id, id.Str(), "record %d", i)
	}
}

// {"create":"oops"} is a create item with an error, not an index item.
func TestBulkMalformedMetadataKeepsActionName(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, _ := newTestReceiver(t, sink)
	body := "{\"create\":\"oops\"}\n{\"message\":\"a\"}\n{\"delete\":[1]}\n{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"b\"}\n"
	rec := do(t, r, http.MethodPost, "/_bulk", body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []string{"create:400", "delete:400", "create:201"}, itemStatuses(decodeBulk(t, rec.Body.Bytes())))
	assert.Equal(t, 1, sink.LogRecordCount())
}

// A document id may contain '/', sent as %2F on the single-document endpoints.
func TestDocumentIDWithEncodedSlash(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, _ := newTestReceiver(t, sink)
	for _, path := range []string{"/logs/_doc/a%2Fb", "/logs/_create/a%2Fb"} {
		rec := do(t, r, http.MethodPut, path, `{"message":"m"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		var resp map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		assert.Equal(t, "a/b", resp["_id"])
		assert.Equal(t, "logs", resp["_index"])
	}
	records, _ := allRecords(sink)
	require.Len(t, records, 2)
	id, _ := records[0].Attributes().Get(AttrDocumentID)
	assert.Equal(t, "a/b", id.Str())
	assert.Equal(t, http.StatusBadRequest, do(t, r, http.MethodPut, "/logs/_doc/a/b", `{}`).Code, "an unescaped slash is still a path separator")
}

// Elasticsearch refuses an empty _id ("if _id is specified it must not be
// empty") instead of generating one; the rest of the request goes on.
func TestBulkEmptyIDRejected(t *testing.T) {
	sink := new(consumertest.LogsSink)
	r, tel := newTestReceiver(t, sink)
	body := "{\"index\":{\"_index\":\"i\",\"_id\":\"\"}}\n{\"m\":1}\n{\"create\":{\"_index\":\"i\",\"_id\":\"ok\"}}\n{\"m\":2}\n"
	rec := do(t, r, http.MethodPost, "/_bulk", body)
	require.Equal(t, http.StatusOK, rec.Code)
	resp := decodeBulk(t, rec.Body.Bytes())
	assert.Equal(t, []string{"index:400", "create:201"}, itemStatuses(resp))
	errObj := resp.Items[0]["index"]["error"].(map[string]any)
	assert.Equal(t, "action_request_validation_exception", errObj["type"])
	assert.Contains(t, errObj["reason"], "if _id is specified it must not be empty")
	assert.Equal(t, 1, sink.LogRecordCount())
	metadatatest.AssertEqualEsBulkDocumentsRejected(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", reasonInvalidMetadata)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}
