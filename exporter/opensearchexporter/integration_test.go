package opensearchexporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/storagetest"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// osAPI is a tiny client for assertions against the real cluster.
type osAPI struct {
	t   *testing.T
	url string
}

func (a osAPI) do(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connections left behind for goleak
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// tryCount refreshes index and counts its documents matching query, returning
// the response status (the count is 0 unless it is 200).
func (a osAPI) tryCount(index, query string) (int, int, map[string]any) {
	a.t.Helper()
	a.do(http.MethodPost, "/"+index+"/_refresh", "")
	status, out := a.do(http.MethodPost, "/"+index+"/_count", query)
	if status != http.StatusOK {
		return 0, status, out
	}
	return int(out["count"].(float64)), status, out
}

func (a osAPI) count(index, query string) int {
	a.t.Helper()
	n, status, out := a.tryCount(index, query)
	if status == http.StatusNotFound {
		return 0
	}
	require.Equal(a.t, http.StatusOK, status, out)
	return n
}

// waitCount polls until index holds want documents or a minute passes. An
// index that does not exist yet (404) or whose shards are still starting (503,
// "all shards failed" right after the exporter created it) counts as empty.
func (a osAPI) waitCount(index string, want int) int {
	a.t.Helper()
	deadline := time.Now().Add(time.Minute)
	got := 0
	for time.Now().Before(deadline) {
		n, status, out := a.tryCount(index, "")
		switch status {
		case http.StatusOK:
			if got = n; got >= want {
				return got
			}
		case http.StatusNotFound, http.StatusServiceUnavailable:
		default:
			require.Failf(a.t, "count failed", "status %d: %v", status, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got
}

func (a osAPI) ismInstalled() bool {
	status, _ := a.do(http.MethodGet, "/_plugins/_ism/policies", "")
	return status == http.StatusOK
}

func uniquePrefix(t *testing.T) string {
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "it" + hex.EncodeToString(b[:])
}

func integrationConfig(url, prefix string) *Config {
	cfg := testConfig(url)
	cfg.LogsIndex = prefix + "-logs-{service.name}-{yyyy.MM.dd}"
	cfg.TracesIndex = prefix + "-traces-{yyyy.MM.dd}"
	cfg.DeadLetter.Index = prefix + "-dlq-{yyyy.MM.dd}"
	cfg.IndexTemplate.NamePrefix = prefix
	cfg.IndexTemplate.Replicas = 0
	return cfg
}

// TestIntegration runs against one real OpenSearch node (shared by the
// subtests so a standalone run starts a single server).
func TestIntegration(t *testing.T) {
	srv := backend.OpenSearchFor(t)
	t.Run("IndexSearchAndTemplates", func(t *testing.T) { testIndexSearchAndTemplates(t, srv) })
	t.Run("MappingConflictGoesToDeadLetter", func(t *testing.T) { testMappingConflictGoesToDeadLetter(t, srv) })
	t.Run("DeadLetterIndexRefusalIsDropped", func(t *testing.T) { testDeadLetterIndexRefusalIsDropped(t, srv) })
	t.Run("OutageWithPersistentQueue", func(t *testing.T) { testOutageWithPersistentQueue(t, srv) })
	t.Run("LongAttributeValuesAreIndexed", func(t *testing.T) { testLongAttributeValuesAreIndexed(t, srv) })
	t.Run("OverlappingPatternsBothInstalled", func(t *testing.T) { testOverlappingPatternsBothInstalled(t, srv) })
}

// Logs in "<p>-*" and spans in "<p>-traces-*": OpenSearch refuses overlapping
// templates of equal priority, which left spans without their mapping.
func testOverlappingPatternsBothInstalled(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	prefix := uniquePrefix(t)
	cfg := integrationConfig(srv.URL, prefix)
	cfg.LogsIndex = prefix + "-{yyyy.MM.dd}"
	cfg.TracesIndex = prefix + "-traces-{yyyy.MM.dd}"
	h := startExporter(t, cfg)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), makeLogs(1)))
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{9})
	sp.SetSpanID(pcommon.SpanID{9})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(baseTime))
	require.NoError(t, h.tr.ConsumeTraces(context.Background(), td))
	for _, name := range []string{prefix + "-logs", prefix + "-traces"} {
		status, out := api.do(http.MethodGet, "/_index_template/"+name, "")
		assert.Equal(t, http.StatusOK, status, "template %s: %v", name, out)
	}
	assert.Equal(t, 1, api.waitCount(prefix+"-traces-*", 1))
	_, mapping := api.do(http.MethodGet, "/"+prefix+"-traces-*/_mapping", "")
	assert.Contains(t, fmt.Sprint(mapping), "durationInNanos", "spans have the traces mapping")
}

// A Java stack trace in an attribute is longer than the 32,766 bytes Lucene
// allows in one term; the record must still be indexed, not dead-lettered.
func testLongAttributeValuesAreIndexed(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	prefix := uniquePrefix(t)
	cfg := integrationConfig(srv.URL, prefix)
	cfg.LogsIndex = prefix + "-logs-{yyyy.MM.dd}"
	h := startExporter(t, cfg)
	trace := strings.Repeat("\tat com.example.checkout.PaymentService.charge(PaymentService.java:42)\n", 600)
	require.Greater(t, len(trace), 32766)

	ld := makeLogs(2)
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	lr.Attributes().PutStr("exception.stacktrace", trace)
	lr.Attributes().PutStr("exception.type", "java.lang.IllegalStateException")
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	pattern := prefix + "-logs-*"
	assert.Equal(t, 2, api.waitCount(pattern, 2))
	query := `{"query":{"term":{"attributes.exception.type":"java.lang.IllegalStateException"}}}`
	assert.Equal(t, 1, api.count(pattern, query))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dead_lettered"))
	_, out := api.do(http.MethodPost, "/"+pattern+"/_search", query)
	hits, _ := out["hits"].(map[string]any)["hits"].([]any)
	require.Len(t, hits, 1)
	source := hits[0].(map[string]any)["_source"].(map[string]any)
	assert.Equal(t, map[string]any{"attributes.exception.stacktrace": trace}, source["untruncated"], "the whole value is kept")

	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{7})
	sp.SetSpanID(pcommon.SpanID{7})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(baseTime))
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.stacktrace", trace)
	require.NoError(t, h.tr.ConsumeTraces(context.Background(), td))
	assert.Equal(t, 1, api.waitCount(prefix+"-traces-*", 1))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dead_lettered"))
}

func testIndexSearchAndTemplates(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	prefix := uniquePrefix(t)
	h := startExporter(t, integrationConfig(srv.URL, prefix))

	const n = 300
	ld := makeLogs(n)
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(17)
	lr.SetTraceID(pcommon.TraceID{0xde, 0xad, 0xbe, 0xef})
	lr.Body().SetStr("card declined for order 4711")
	// A key that is an object here and a string elsewhere must not conflict.
	lr.Attributes().PutEmptyMap("http").PutStr("method", "POST")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(18).Attributes().PutStr("http", "plain")
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld)) // resend: 409s, no duplicates

	pattern := prefix + "-logs-*"
	assert.Equal(t, n, api.waitCount(pattern, n))
	// makeLogs cycles service names svc-0..2 per 50 records: 300 records give 100 each.
	assert.Equal(t, 100, api.count(prefix+"-logs-svc-1-2026.01.02", ""))
	assert.Equal(t, 1, api.count(pattern, `{"query":{"term":{"traceId":"deadbeef000000000000000000000000"}}}`))
	assert.Equal(t, 1, api.count(pattern, `{"query":{"match":{"body":"declined"}}}`))
	assert.Equal(t, 1, api.count(pattern, `{"query":{"term":{"attributes.http.method":"POST"}}}`))
	assert.Equal(t, 1, api.count(pattern, `{"query":{"term":{"attributes.http":"plain"}}}`))
	assert.Equal(t, n, api.count(pattern, `{"query":{"term":{"severity.text.keyword":"INFO"}}}`))
	assert.Equal(t, int64(n), h.sum(t, "exporter_opensearch_documents_duplicate"))

	status, tmpl := api.do(http.MethodGet, "/_index_template/"+prefix+"-logs", "")
	require.Equal(t, http.StatusOK, status, tmpl)
	_, mapping := api.do(http.MethodGet, "/"+prefix+"-logs-svc-0-2026.01.02/_mapping", "")
	assert.Contains(t, fmt.Sprint(mapping), "flat_object")
	status, _ = api.do(http.MethodGet, "/_plugins/_ism/policies/"+prefix+"-logs", "")
	if api.ismInstalled() {
		assert.Equal(t, http.StatusOK, status, "ISM policy installed")
	} else {
		t.Log("ISM plugin not installed on the test cluster: policy install is covered by unit tests only")
	}

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{0xde, 0xad, 0xbe, 0xef})
	sp.SetSpanID(pcommon.SpanID{1})
	sp.SetName("charge")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(baseTime))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Second)))
	sp.Events().AppendEmpty().SetName("retry")
	require.NoError(t, h.tr.ConsumeTraces(context.Background(), td))
	assert.Equal(t, 1, api.waitCount(prefix+"-traces-*", 1))
	assert.Equal(t, 1, api.count(prefix+"-traces-*", `{"query":{"term":{"traceId":"deadbeef000000000000000000000000"}}}`))
	assert.Equal(t, 1, api.count(prefix+"-traces-*", `{"query":{"term":{"serviceName":"cart"}}}`))
}

func testMappingConflictGoesToDeadLetter(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	prefix := uniquePrefix(t)
	cfg := integrationConfig(srv.URL, prefix)
	cfg.LogsIndex = prefix + "-logs-{yyyy.MM.dd}"
	// An operator-made index whose body field is numeric: text bodies cannot be indexed.
	index := prefix + "-logs-2026.01.02"
	status, out := api.do(http.MethodPut, "/"+index, `{"settings":{"number_of_replicas":0},"mappings":{"properties":{"body":{"type":"long"}}}}`)
	require.Equal(t, http.StatusOK, status, out)
	h := startExporter(t, cfg)

	ld := makeLogs(40)
	for i, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		if i%4 != 0 {
			lr.Body().SetStr(fmt.Sprint(1000 + i)) // numeric text is accepted by a long field
		}
	}
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 30, api.waitCount(index, 30))
	dlq := prefix + "-dlq-*"
	assert.Equal(t, 10, api.waitCount(dlq, 10))
	assert.Equal(t, 10, api.count(dlq, `{"query":{"term":{"error.type":"mapper_parsing_exception"}}}`))
	assert.Equal(t, 1, api.count(dlq, `{"query":{"match_phrase":{"document":"record-8"}}}`))
	assert.Equal(t, int64(10), h.sum(t, "exporter_opensearch_documents_dead_lettered"))
	// Resending changes nothing: both indices answer 409.
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 30, api.count(index, ""))
	assert.Equal(t, 10, api.count(dlq, ""))
}

// testDeadLetterIndexRefusalIsDropped: an operator-made dead-letter index
// whose mapping cannot take dead letters refuses them permanently; the
// exporter must not retry them forever but count them as dropped.
func testDeadLetterIndexRefusalIsDropped(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	prefix := uniquePrefix(t)
	cfg := integrationConfig(srv.URL, prefix)
	cfg.LogsIndex = prefix + "-logs-{yyyy.MM.dd}"
	index := prefix + "-logs-2026.01.02"
	status, out := api.do(http.MethodPut, "/"+index, `{"settings":{"number_of_replicas":0},"mappings":{"properties":{"body":{"type":"long"}}}}`)
	require.Equal(t, http.StatusOK, status, out)
	dlq := prefix + "-dlq-2026.01.02"
	status, out = api.do(http.MethodPut, "/"+dlq, `{"settings":{"number_of_replicas":0},"mappings":{"properties":{"document":{"type":"long"}}}}`)
	require.Equal(t, http.StatusOK, status, out)
	h := startExporter(t, cfg)

	ld := makeLogs(20)
	for i, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		if i%4 != 0 {
			lr.Body().SetStr(fmt.Sprint(1000 + i))
		}
	}
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 15, api.waitCount(index, 15))
	assert.Equal(t, 0, api.count(dlq, ""))
	assert.Equal(t, int64(5), h.sum(t, "exporter_opensearch_documents_dropped", attribute.String("reason", "mapper_parsing_exception")))
	assert.Zero(t, h.sum(t, "exporter_opensearch_documents_dead_lettered"))
}

// tcpProxy forwards to an upstream address and can be cut and restored on the
// same port, which looks to the exporter like the cluster going down.
type tcpProxy struct {
	t        *testing.T
	addr     string
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func newTCPProxy(t *testing.T, upstream string) *tcpProxy {
	p := &tcpProxy{t: t, upstream: upstream, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// down stops accepting and resets every open connection.
func (p *tcpProxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *tcpProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err)
	p.serve(ln)
}

// testOutageWithPersistentQueue cuts the cluster off mid-run, shuts
// the exporter down during the outage, starts a new one on the same queue
// directory and restores the cluster: every record arrives exactly once.
func testOutageWithPersistentQueue(t *testing.T, srv *backend.OpenSearch) {
	api := osAPI{t, srv.URL}
	proxy := newTCPProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	prefix := uniquePrefix(t)
	queueDir := t.TempDir()
	storageID := component.MustNewID("file_storage")

	start := func() (exporter.Logs, extension.Extension) {
		sf := filestorage.NewFactory()
		scfg := sf.CreateDefaultConfig().(*filestorage.Config)
		scfg.Directory = queueDir
		ext, err := sf.Create(context.Background(), extensiontest.NewNopSettings(sf.Type()), scfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
		host := storagetest.Host(storageID, ext)

		cfg := integrationConfig("http://"+proxy.addr, prefix)
		cfg.LogsIndex = prefix + "-logs-{yyyy.MM.dd}"
		cfg.ClientConfig.Timeout = 2 * time.Second
		q := exporterhelper.NewDefaultQueueConfig()
		q.StorageID = &storageID
		q.NumConsumers = 2
		cfg.QueueConfig = configoptional.Some(q)
		cfg.RetryConfig = configretry.BackOffConfig{
			Enabled: true, InitialInterval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond,
			Multiplier: 2, MaxElapsedTime: 0, // never give up
		}
		set := exportertest.NewNopSettings(metadata.Type)
		// A fixed id: the persistent queue is found again by exporter id.
		set.ID = component.NewID(metadata.Type)
		set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
		exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, exp.Start(context.Background(), host))
		return exp, ext
	}

	const n, batches = 3000, 30
	all := makeLogs(n)
	batch := func(b int) []int {
		var ords []int
		for i := b * (n / batches); i < (b+1)*(n/batches); i++ {
			ords = append(ords, i)
		}
		return ords
	}
	exp, ext := start()
	for b := 0; b < 10; b++ {
		require.NoError(t, exp.ConsumeLogs(context.Background(), logsSubset(all, batch(b))))
	}
	proxy.down()
	for b := 10; b < 20; b++ {
		require.NoError(t, exp.ConsumeLogs(context.Background(), logsSubset(all, batch(b))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	require.NoError(t, exp.Shutdown(ctx))
	cancel()
	require.NoError(t, ext.Shutdown(context.Background()))

	exp, ext = start()
	proxy.up()
	for b := 20; b < batches; b++ {
		require.NoError(t, exp.ConsumeLogs(context.Background(), logsSubset(all, batch(b))))
	}
	index := prefix + "-logs-2026.01.02"
	got := api.waitCount(index, n)
	require.NoError(t, exp.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
	assert.Equal(t, n, got, "documents after outage and restart")
	// Every record is there exactly once: count distinct bodies.
	ids := map[string]bool{}
	scroll(t, api, index, func(body string) { ids[body] = true })
	assert.Equal(t, n, len(ids), "distinct records")
}

// scroll visits the body of every document in index (search_after on _id).
func scroll(t *testing.T, api osAPI, index string, visit func(body string)) {
	after := ""
	for page := 0; page < 100; page++ {
		q := `{"size":1000,"sort":[{"@timestamp":"asc"}],"_source":["body"]`
		if after != "" {
			q += `,"search_after":[` + after + `]`
		}
		q += "}"
		status, out := api.do(http.MethodPost, "/"+index+"/_search", q)
		require.Equal(t, http.StatusOK, status, out)
		hits := out["hits"].(map[string]any)["hits"].([]any)
		if len(hits) == 0 {
			return
		}
		for _, h := range hits {
			hm := h.(map[string]any)
			visit(hm["_source"].(map[string]any)["body"].(string))
			sortVals, _ := json.Marshal(hm["sort"].([]any)[0])
			after = string(sortVals)
		}
	}
	t.Fatal("scroll did not finish")
}
