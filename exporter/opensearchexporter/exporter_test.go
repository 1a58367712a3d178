package opensearchexporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
)

// baseTime is 2026-01-02T03:04:05Z: every test record lands in a known index.
var baseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const testLogsIndex = "ss4o_logs-default-2026.01.02"

func testConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig = configretry.BackOffConfig{
		Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond,
		Multiplier: 1.5, MaxElapsedTime: 20 * time.Second,
	}
	return cfg
}

type harness struct {
	tel  *componenttest.Telemetry
	logs exporter.Logs
	tr   exporter.Traces
}

func startExporter(t *testing.T, cfg *Config) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	var err error
	h.logs, err = NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, h.logs.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, h.logs.Shutdown(context.Background())) })
	h.tr, err = NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, h.tr.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, h.tr.Shutdown(context.Background())) })
	return h
}

// sum totals an int counter, over data points whose attributes include want.
func (h *harness) sum(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_" + name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		ok := true
		for _, kv := range want {
			if v, has := dp.Attributes.Value(kv.Key); !has || v != kv.Value {
				ok = false
			}
		}
		if ok {
			total += dp.Value
		}
	}
	return total
}

// makeLogs builds n records with unique bodies "record-<i>" spread over
// several resources and scopes.
func makeLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	var sl plog.ScopeLogs
	for i := 0; i < n; i++ {
		if i%50 == 0 {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", i/50%3))
			sl = rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("test")
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("record-%d", i))
		lr.SetSeverityText("INFO")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Attributes().PutInt("seq", int64(i))
	}
	return ld
}

// bodies returns the set of bodies stored in an index.
func bodies(t *testing.T, docs map[string]json.RawMessage) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, raw := range docs {
		var d struct {
			Body string `json:"body"`
		}
		require.NoError(t, json.Unmarshal(raw, &d))
		out[d.Body]++
	}
	return out
}

func TestLogsIndexedOnceAndResendIsDuplicate(t *testing.T) {
	f := newFakeOpenSearch(t)
	h := startExporter(t, testConfig(f.srv.URL))
	const n = 120
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(n)))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(n)))
	assert.Equal(t, n, f.count(testLogsIndex))
	assert.Equal(t, int64(n), h.sum(t, "exporter_opensearch_documents_indexed"))
	assert.Equal(t, int64(n), h.sum(t, "exporter_opensearch_documents_duplicate"))
	assert.Equal(t, int64(2), h.sum(t, "exporter_opensearch_bulk_requests", attribute.String("outcome", "success")))
	latency, err := h.tel.GetMetric("otelcol_exporter_opensearch_bulk_latency")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), latency.Data.(metricdata.Histogram[float64]).DataPoints[0].Count)

	var doc map[string]any
	for _, raw := range f.indexDocs(testLogsIndex) {
		require.NoError(t, json.Unmarshal(raw, &doc))
		break
	}
	assert.Contains(t, doc, "@timestamp")
	assert.Equal(t, "INFO", doc["severity"].(map[string]any)["text"])
	assert.Contains(t, doc["resource"].(map[string]any), "service.name")
	assert.Equal(t, "test", doc["instrumentationScope"].(map[string]any)["name"])
}

// A line logged three times in one poll, with no timestamp of its own, gives three
// identical records: they are three documents, and a resend of the request is still
// recognized (409) for each of them.
func TestIdenticalRecordsInOneRequestAreKept(t *testing.T) {
	f := newFakeOpenSearch(t)
	h := startExporter(t, testConfig(f.srv.URL))
	ld := identicalLogs(3)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, map[string]int{"retrying": 3}, bodies(t, f.indexDocs(testLogsIndex)))
	assert.Equal(t, int64(3), h.sum(t, "exporter_opensearch_documents_indexed"))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_duplicate"))

	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 3, f.count(testLogsIndex))
	assert.Equal(t, int64(3), h.sum(t, "exporter_opensearch_documents_duplicate"))
}

// identicalLogs is n copies of one record without a timestamp of its own.
func identicalLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range n {
		lr := lrs.AppendEmpty()
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(baseTime))
		lr.Body().SetStr("retrying")
	}
	return ld
}

// A retry carries only what failed; a later copy of an identical record must
// keep its own id then, or it would be taken for the first copy (409) and lost.
func TestRetriedCopyOfIdenticalRecordIsKept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(f *fakeOpenSearch) func(string, string, []byte) (int, string)
		batch int
	}{
		{"item throttled", func(*fakeOpenSearch) func(string, string, []byte) (int, string) {
			seen := map[string]int{}
			first := ""
			return func(_, id string, _ []byte) (int, string) {
				if first == "" {
					first = id
				}
				seen[id]++
				if id != first && seen[id] == 1 {
					return 429, "rejected_execution_exception"
				}
				return 0, ""
			}
		}, 0},
		{"connection lost between requests", func(f *fakeOpenSearch) func(string, string, []byte) (int, string) {
			calls := 0
			return func(string, string, []byte) (int, string) {
				if calls++; calls == 1 {
					f.wholeFaults = []int{-1} // the next request's connection drops
				}
				return 0, ""
			}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOpenSearch(t)
			f.itemFault = tc.fault(f)
			cfg := testConfig(f.srv.URL)
			if tc.batch > 0 {
				cfg.Bulk.MaxDocuments = tc.batch
			}
			h := startExporter(t, cfg)
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), identicalLogs(3)))
			assert.Equal(t, map[string]int{"retrying": 3}, bodies(t, f.indexDocs(testLogsIndex)))
			assert.Equal(t, int64(3), h.sum(t, "exporter_opensearch_documents_indexed"))
		})
	}
}

func TestOnlyRetryableItemsAreRetried(t *testing.T) {
	f := newFakeOpenSearch(t)
	attempts := map[string]int{}
	var received int
	f.itemFault = func(_, id string, doc []byte) (int, string) {
		received++
		attempts[id]++
		// Every third document is throttled twice, every fifth fails with 503 once.
		switch {
		case strings.Contains(string(doc), `"seq":`) && attempts[id] <= 2 && seqOf(doc)%3 == 0:
			return 429, "rejected_execution_exception"
		case attempts[id] == 1 && seqOf(doc)%5 == 0:
			return 503, "unavailable_shards_exception"
		}
		return 0, ""
	}
	h := startExporter(t, testConfig(f.srv.URL))
	const n = 300
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(n)))
	assert.Equal(t, n, f.count(testLogsIndex))
	got := bodies(t, f.indexDocs(testLogsIndex))
	for i := 0; i < n; i++ {
		assert.Equal(t, 1, got[fmt.Sprintf("record-%d", i)], "record-%d", i)
	}
	// Retries carry only the failed items: 100 throttled twice, and the
	// multiples of 5 that are not multiples of 3 (40) fail once.
	wantRetried := 100*2 + 40
	assert.Equal(t, n+wantRetried, received)
	assert.Equal(t, int64(wantRetried), h.sum(t, "exporter_opensearch_documents_retried"))
	assert.Equal(t, int64(n), h.sum(t, "exporter_opensearch_documents_indexed"))
}

func seqOf(doc []byte) int {
	var d struct {
		Attributes struct {
			Seq int `json:"seq"`
		} `json:"attributes"`
	}
	_ = json.Unmarshal(doc, &d)
	return d.Attributes.Seq
}

func TestMappingErrorsGoToDeadLetterIndex(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.itemFault = func(index, _ string, doc []byte) (int, string) {
		if strings.HasPrefix(index, "ss4o_logs") && seqOf(doc)%10 == 7 {
			return 400, "mapper_parsing_exception"
		}
		return 0, ""
	}
	h := startExporter(t, testConfig(f.srv.URL))
	const n = 100
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(n)))
	// Sending again must not duplicate the dead letters either.
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(n)))

	assert.Equal(t, n-10, f.count(testLogsIndex))
	dlq := f.indexDocs("sluice-dlq-2026.01.02")
	require.Len(t, dlq, 10)
	for _, raw := range dlq {
		var d struct {
			Signal   string `json:"signal"`
			Index    string `json:"index"`
			Status   int    `json:"status"`
			Error    struct{ Type, Reason string }
			Document string `json:"document"`
		}
		require.NoError(t, json.Unmarshal(raw, &d))
		assert.Equal(t, "logs", d.Signal)
		assert.Equal(t, testLogsIndex, d.Index)
		assert.Equal(t, 400, d.Status)
		assert.Equal(t, "mapper_parsing_exception", d.Error.Type)
		assert.Equal(t, 7, seqOf([]byte(d.Document))%10)
	}
	assert.Equal(t, int64(20), h.sum(t, "exporter_opensearch_documents_dead_lettered", attribute.String("reason", "mapper_parsing_exception")))
}

func TestDeadLetterFile(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.itemFault = func(_, _ string, doc []byte) (int, string) {
		if seqOf(doc) < 3 {
			return 400, "illegal_argument_exception"
		}
		return 0, ""
	}
	cfg := testConfig(f.srv.URL)
	cfg.DeadLetter = DeadLetterConfig{File: filepath.Join(t.TempDir(), "dlq", "rejected.ndjson")}
	h := startExporter(t, cfg)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(10)))
	fh, err := os.Open(cfg.DeadLetter.File)
	require.NoError(t, err)
	defer fh.Close()
	var lines int
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var d struct {
			Error    struct{ Type string }
			Document string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &d))
		assert.Equal(t, "illegal_argument_exception", d.Error.Type)
		assert.Less(t, seqOf([]byte(d.Document)), 3)
		lines++
	}
	assert.Equal(t, 3, lines)
	assert.Equal(t, 7, f.count(testLogsIndex))
}

func TestTooLargeRequestsAreSplit(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.maxBody = 4000
	cfg := testConfig(f.srv.URL)
	cfg.Bulk.MaxBytes = 3000 // dead-letter records keep at most half of this of the document
	h := startExporter(t, cfg)
	ld := makeLogs(60)
	// One record is larger than the server accepts even alone.
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(5).Body().SetStr(strings.Repeat("x", 5000))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 59, f.count(testLogsIndex))
	dlq := f.indexDocs("sluice-dlq-2026.01.02")
	require.Len(t, dlq, 1)
	for _, raw := range dlq {
		assert.Contains(t, string(raw), `"type":"document_too_large"`)
		assert.Contains(t, string(raw), `"documentTruncated":true`)
	}
	assert.Positive(t, h.sum(t, "exporter_opensearch_bulk_requests", attribute.String("outcome", "too_large")))
}

func TestWholeRequestFaultsAreRetried(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.wholeFaults = []int{503, 429, -1, 401, 500}
	h := startExporter(t, testConfig(f.srv.URL))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(40)))
	assert.Equal(t, 40, f.count(testLogsIndex))
	assert.Equal(t, int64(1), h.sum(t, "exporter_opensearch_bulk_requests", attribute.String("outcome", "throttled")))
	assert.Equal(t, int64(1), h.sum(t, "exporter_opensearch_bulk_requests", attribute.String("outcome", "transport_error")))
	assert.Equal(t, int64(3), h.sum(t, "exporter_opensearch_bulk_requests", attribute.String("outcome", "failed")))
}

// A request OpenSearch refuses for its content (400 with an error type) is
// split to isolate the documents; a refusal that is not about them (a wrong
// path, a proxy) is retried: splitting it would dead-letter everything.
func TestWholeRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []int
		split  bool
	}{
		{"400 from OpenSearch is split", []int{400}, true},
		{"404 from OpenSearch is retried", []int{404, 404}, false},
		{"405 is retried", []int{405}, false},
		{"404 from a proxy is retried", []int{-404}, false},
		{"400 from a proxy is retried", []int{-400, -400}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOpenSearch(t)
			f.wholeFaults = tc.faults
			h := startExporter(t, testConfig(f.srv.URL))
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(32)))
			assert.Equal(t, 32, f.count(testLogsIndex))
			assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dead_lettered"))
			if tc.split {
				assert.Equal(t, 3, f.requests, "the refused request and its two halves")
			} else {
				assert.Equal(t, len(tc.faults)+1, f.requests, "resent whole")
			}
		})
	}
}

func TestUnreachableEndpointIsRetryableWithAllData(t *testing.T) {
	f := newFakeOpenSearch(t)
	url := f.srv.URL
	f.srv.Close()
	cfg := testConfig(url)
	cfg.IndexTemplate.Enabled = false
	cfg.ISMPolicy.Enabled = false
	set := exportertest.NewNopSettings(metadata.Type)
	e, err := newExporter(cfg, set, signalLogs)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, e.shutdown(context.Background())) }()
	cfg.Bulk.MaxDocuments = 10 // several requests: after the first failure the rest are not attempted
	e.sender.maxDocs = 10
	err = e.pushLogs(context.Background(), makeLogs(35))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	var le consumererror.Logs
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 35, le.Data().LogRecordCount())
}

func TestRetrySubsetKeepsResourceAndScope(t *testing.T) {
	ld := makeLogs(120)
	sub := logsSubset(ld, []int{0, 49, 50, 119})
	require.Equal(t, 4, sub.LogRecordCount())
	require.Equal(t, 3, sub.ResourceLogs().Len())
	assert.Equal(t, 2, sub.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().Len())
	svc, _ := sub.ResourceLogs().At(1).Resource().Attributes().Get("service.name")
	assert.Equal(t, "svc-1", svc.Str())
	assert.Equal(t, "test", sub.ResourceLogs().At(2).ScopeLogs().At(0).Scope().Name())
	assert.Equal(t, "record-119", sub.ResourceLogs().At(2).ScopeLogs().At(0).LogRecords().At(0).Body().Str())
}

// TestAccountingUnderFaults sends N unique records through a server that
// throttles, fails, splits and drops connections at random (seeded), and
// checks that exactly N documents exist at the end, each once.
func TestAccountingUnderFaults(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.maxBody = 20_000
	var mu sync.Mutex
	state := uint64(42)
	next := func() uint64 { // xorshift: deterministic fault pattern
		mu.Lock()
		defer mu.Unlock()
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return state
	}
	f.itemFault = func(_, _ string, _ []byte) (int, string) {
		switch next() % 10 {
		case 0:
			return 429, "rejected_execution_exception"
		case 1:
			return 502, "bad_gateway"
		}
		return 0, ""
	}
	for i := 0; i < 30; i++ {
		// -1 drops the connection; -2 indexes and then loses the response, so
		// the retry meets documents that are already there.
		f.wholeFaults = append(f.wholeFaults, []int{0, 503, -1, 429, -2, -2}[next()%6])
	}
	// Status 0 in wholeFaults would be invalid: drop those.
	faults := f.wholeFaults[:0]
	for _, w := range f.wholeFaults {
		if w != 0 {
			faults = append(faults, w)
		}
	}
	f.wholeFaults = faults

	cfg := testConfig(f.srv.URL)
	cfg.Bulk.MaxBytes = 30_000 // above the server limit: 413 splits happen too
	h := startExporter(t, cfg)
	const n, batches = 2000, 8
	all := makeLogs(n)
	// Deliver in several pushes, concurrently, as queue consumers would.
	var wg sync.WaitGroup
	for b := 0; b < batches; b++ {
		wg.Add(1)
		go func(b int) {
			defer wg.Done()
			var ordinals []int
			for i := b; i < n; i += batches {
				ordinals = append(ordinals, i)
			}
			assert.NoError(t, h.logs.ConsumeLogs(context.Background(), logsSubset(all, ordinals)))
		}(b)
	}
	wg.Wait()
	got := bodies(t, f.indexDocs(testLogsIndex))
	assert.Len(t, got, n)
	for i := 0; i < n; i++ {
		require.Equal(t, 1, got[fmt.Sprintf("record-%d", i)], "record-%d", i)
	}
	assert.Empty(t, f.indexDocs("sluice-dlq-2026.01.02"))
	// Documents whose response was lost were indexed without the exporter
	// knowing; the retry recognises them as duplicates (409), so the counters
	// add up to N and the index holds each record once.
	indexed := h.sum(t, "exporter_opensearch_documents_indexed")
	dup := h.sum(t, "exporter_opensearch_documents_duplicate")
	assert.Positive(t, dup)
	assert.Equal(t, int64(n), indexed+dup)
	assert.Positive(t, h.sum(t, "exporter_opensearch_documents_retried"))
}

func TestTracesIndexed(t *testing.T) {
	f := newFakeOpenSearch(t)
	h := startExporter(t, testConfig(f.srv.URL))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := 0; i < 5; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, byte(i)})
		sp.SetSpanID(pcommon.SpanID{9, byte(i)})
		sp.SetName("GET /cart")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(baseTime))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Duration(i+1) * time.Millisecond)))
		sp.Status().SetCode(ptrace.StatusCodeError)
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
	}
	require.NoError(t, h.tr.ConsumeTraces(context.Background(), td))
	require.NoError(t, h.tr.ConsumeTraces(context.Background(), td))
	docs := f.indexDocs("ss4o_traces-default-2026.01.02")
	require.Len(t, docs, 5)
	for _, raw := range docs {
		var d struct {
			TraceID     string `json:"traceId"`
			ServiceName string `json:"serviceName"`
			Kind        string `json:"kind"`
			Duration    int64  `json:"durationInNanos"`
			Status      struct{ Code int }
		}
		require.NoError(t, json.Unmarshal(raw, &d))
		assert.True(t, strings.HasPrefix(d.TraceID, "010203"))
		assert.Equal(t, "checkout", d.ServiceName)
		assert.Equal(t, "SPAN_KIND_SERVER", d.Kind)
		assert.Positive(t, d.Duration)
		assert.Equal(t, 2, d.Status.Code)
	}
	assert.Equal(t, int64(5), h.sum(t, "exporter_opensearch_documents_duplicate"))
}

func TestStartInstallsTemplatesAndPolicies(t *testing.T) {
	t.Run("without ISM", func(t *testing.T) {
		f := newFakeOpenSearch(t)
		h := startExporter(t, testConfig(f.srv.URL))
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(1)))
		require.NoError(t, h.tr.ConsumeTraces(context.Background(), ptrace.NewTraces()))
		f.mu.Lock()
		defer f.mu.Unlock()
		assert.Contains(t, f.templates, "sluice-logs")
		assert.Contains(t, f.templates, "sluice-traces")
		assert.Contains(t, f.templates, "sluice-dlq")
		assert.Contains(t, string(f.templates["sluice-logs"]), `"index_patterns":["ss4o_logs-default-*"]`)
		assert.Contains(t, string(f.templates["sluice-logs"]), `"attributes":{"type":"flat_object"}`)
		assert.Empty(t, f.policies)
	})
	t.Run("with ISM", func(t *testing.T) {
		f := newFakeOpenSearch(t)
		f.ismInstalled = true
		cfg := testConfig(f.srv.URL)
		cfg.ISMPolicy.Retention = 7 * 24 * time.Hour
		h := startExporter(t, cfg)
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(1)))
		require.NoError(t, h.tr.ConsumeTraces(context.Background(), ptrace.NewTraces()))
		f.mu.Lock()
		defer f.mu.Unlock()
		require.Contains(t, f.policies, "sluice-logs")
		assert.Contains(t, string(f.policies["sluice-logs"]), `"min_index_age":"7d"`)
		assert.Contains(t, string(f.policies["sluice-logs"]), `"index_patterns":["ss4o_logs-default-*"]`)
		assert.Contains(t, f.policies, "sluice-traces")
		assert.Contains(t, f.policies, "sluice-dlq")
	})
}

func TestDocumentIDModes(t *testing.T) {
	t.Run("attribute", func(t *testing.T) {
		f := newFakeOpenSearch(t)
		cfg := testConfig(f.srv.URL)
		cfg.DocumentID = DocumentIDConfig{Mode: IDModeAttribute, Attribute: "log.record.uid"}
		h := startExporter(t, cfg)
		ld := makeLogs(3)
		ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr("log.record.uid", "uid-0")
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
		docs := f.indexDocs(testLogsIndex)
		assert.Contains(t, docs, "uid-0")
		assert.Len(t, docs, 3)
	})
	t.Run("none", func(t *testing.T) {
		f := newFakeOpenSearch(t)
		cfg := testConfig(f.srv.URL)
		cfg.DocumentID.Mode = IDModeNone
		h := startExporter(t, cfg)
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(3)))
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(3)))
		// Without ids a resend is a new document: the documented trade-off.
		assert.Equal(t, 6, f.count(testLogsIndex))
	})
}

func TestIndexRoutingByAttribute(t *testing.T) {
	f := newFakeOpenSearch(t)
	cfg := testConfig(f.srv.URL)
	cfg.LogsIndex = "logs-{service.name}-{yyyy.MM.dd}"
	h := startExporter(t, cfg)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(150)))
	for _, svc := range []string{"svc-0", "svc-1", "svc-2"} {
		assert.Equal(t, 50, f.count("logs-"+svc+"-2026.01.02"), svc)
	}
}

func TestShutdownIsIdempotent(t *testing.T) {
	f := newFakeOpenSearch(t)
	cfg := testConfig(f.srv.URL)
	e, err := newExporter(cfg, exportertest.NewNopSettings(metadata.Type), signalLogs)
	require.NoError(t, err)
	require.NoError(t, e.shutdown(context.Background()))
	require.NoError(t, e.shutdown(context.Background()))
	e2, err := newExporter(cfg, exportertest.NewNopSettings(metadata.Type), signalLogs)
	require.NoError(t, err)
	require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e2.shutdown(context.Background()))
	require.NoError(t, e2.shutdown(context.Background()))
}

var _ component.Host = componenttest.NewNopHost()

// With OpenSearch unreachable since start, the templates are never installed;
// the queue drain at shutdown must not wait the client timeout for each
// queued request (8 × 1 minute here before the fix).
func TestShutdownWithUnreachableClusterDoesNotWaitPerRequest(t *testing.T) {
	f := newFakeOpenSearch(t)
	url := f.srv.URL
	f.srv.Close()
	cfg := testConfig(url)
	cfg.ClientConfig.Timeout = time.Minute
	q := exporterhelper.NewDefaultQueueConfig()
	q.NumConsumers = 1
	cfg.QueueConfig = configoptional.Some(q)
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	for range 8 {
		require.NoError(t, exp.ConsumeLogs(context.Background(), makeLogs(1)))
	}
	done := make(chan error, 1)
	go func() { done <- exp.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown still draining after 30 s: pushes wait for the template install")
	}
}

// A dead letter the dead-letter index refuses permanently (here its mapping
// rejects it) cannot be stored by retrying: the document is dropped, counted
// and logged by id (never by content), instead of being retried forever.
func TestDeadLetterRefusedByDeadLetterIndexIsDroppedAndCounted(t *testing.T) {
	f := newFakeOpenSearch(t)
	var attempts int
	f.itemFault = func(index, _ string, doc []byte) (int, string) {
		if strings.HasPrefix(index, "sluice-dlq") {
			attempts++
			return 400, "mapper_parsing_exception"
		}
		if seqOf(doc)%10 == 3 {
			return 400, "illegal_argument_exception"
		}
		return 0, ""
	}
	cfg := testConfig(f.srv.URL)
	core, logs := observer.New(zap.ErrorLevel)
	h := &harness{tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })

	const n = 50
	require.NoError(t, exp.ConsumeLogs(context.Background(), makeLogs(n)))
	assert.Equal(t, n-5, f.count(testLogsIndex))
	assert.Equal(t, 5, attempts, "each refused dead letter is tried once, not retried")
	assert.Equal(t, int64(5), h.sum(t, "exporter_opensearch_documents_dropped", attribute.String("reason", "illegal_argument_exception")))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dead_lettered"))
	dropped := logs.FilterMessageSnippet("document dropped").All()
	require.Len(t, dropped, 5)
	for _, e := range dropped {
		fields := e.ContextMap()
		assert.Equal(t, "illegal_argument_exception", fields["error_type"])
		assert.Equal(t, "mapper_parsing_exception", fields["dead_letter_error_type"])
		assert.NotEmpty(t, fields["document_id"])
		for k, v := range fields {
			assert.NotContains(t, fmt.Sprint(v), "record-", "field %s: the collector's logs must not quote record content", k)
		}
	}
}

// With a dead-letter file as well, a dead letter the index refuses is in
// the file: dead-lettered, not dropped.
func TestDeadLetterRefusedByIndexButInFileIsNotDropped(t *testing.T) {
	f := newFakeOpenSearch(t)
	f.itemFault = func(index, _ string, doc []byte) (int, string) {
		if strings.HasPrefix(index, "sluice-dlq") {
			return 400, "mapper_parsing_exception"
		}
		if seqOf(doc) == 4 {
			return 400, "illegal_argument_exception"
		}
		return 0, ""
	}
	cfg := testConfig(f.srv.URL)
	file := filepath.Join(t.TempDir(), "rejected.ndjson")
	cfg.DeadLetter.File = file
	h := startExporter(t, cfg)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(10)))
	assert.Equal(t, int64(1), h.sum(t, "exporter_opensearch_documents_dead_lettered"))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dropped"))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count(data, []byte("\n")))
}
