package parquetexporter

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/journal"
	pmetadata "github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// testTracesConfig is testConfig with promoted span attributes.
func testTracesConfig(t *testing.T) *Config {
	cfg := testConfig(t)
	cfg.Traces.PromotedAttributes = []PromotedAttribute{
		{Key: "http.route"},
		{Key: "http.response.status_code", Type: "int"},
		{Key: "host.name", Source: "resource", Column: "host"},
	}
	return cfg
}

func newTestTracesExporter(t *testing.T, cfg *Config, now func() time.Time) *parquetExporter {
	t.Helper()
	set := exportertest.NewNopSettings(pmetadata.Type)
	set.ID = component.NewIDWithName(pmetadata.Type, "test")
	e, err := newExporter(cfg, set, logarchive.SignalTraces, now)
	require.NoError(t, err)
	return e
}

func testID(k, salt int, n int) []byte {
	id := make([]byte, n)
	for b := range id {
		id[b] = byte(k>>(b%4*8)) ^ byte(b*salt+1)
	}
	return id
}

// genTraces builds n spans spread over services, with every optional field
// both set and unset, events, links, non-ASCII text and an unknown kind;
// span i has attribute "seq" = i+offset.
func genTraces(n, offset int, services ...string) ptrace.Traces {
	td := ptrace.NewTraces()
	if len(services) == 0 {
		services = []string{"checkout"}
	}
	per := (n + len(services) - 1) / len(services)
	i := 0
	for s, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		fillTestResource(rs.Resource(), svc, s)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("app.tracer")
		ss.Scope().SetVersion("2.0.1")
		for j := 0; j < per && i < n; j++ {
			k := i + offset
			sp := ss.Spans().AppendEmpty()
			// Deliberately out of time order so the writer must sort.
			start := baseTime.Add(time.Duration((k*7919)%3_000_000) * time.Millisecond).Add(123 * time.Nanosecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			if k%9 != 0 {
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(k%1000)*time.Microsecond + 7)))
			}
			sp.SetTraceID(pcommon.TraceID(testID(k/4, 31, 16)))
			sp.SetSpanID(pcommon.SpanID(testID(k, 17, 8)))
			if k%10 != 0 {
				sp.SetParentSpanID(pcommon.SpanID(testID(k+1, 13, 8)))
			}
			if k%4 == 0 {
				sp.TraceState().FromRaw("vendor=ü1")
			}
			sp.SetFlags(uint32(k % 2))
			if k%13 != 0 {
				sp.SetName(fmt.Sprintf("GET /api/items/%d 日本語", k%50))
			}
			sp.SetKind(ptrace.SpanKind(k % 6))
			if k%17 == 0 {
				sp.SetKind(ptrace.SpanKind(9)) // unknown to pdata: kept as its number
			}
			sp.Status().SetCode(ptrace.StatusCode(k % 3))
			if k%3 == 2 {
				sp.Status().SetMessage("boom → ü")
			}
			sp.SetDroppedAttributesCount(uint32(k % 2))
			sp.SetDroppedEventsCount(uint32(k % 3))
			sp.SetDroppedLinksCount(uint32(k % 5))
			attrs := sp.Attributes()
			attrs.PutInt("seq", int64(k))
			attrs.PutStr("http.request.method", "GET")
			if k%2 == 0 {
				attrs.PutStr("http.route", "/api/items/{id}")
				attrs.PutInt("http.response.status_code", int64(200+k%5))
			} else if k%11 == 0 {
				attrs.PutStr("http.response.status_code", "teapot") // wrong type: stays in the map
			}
			if k%5 == 1 {
				attrs.PutEmptySlice("tags").AppendEmpty().SetStr("a")
			}
			for e := 0; e < k%3; e++ {
				ev := sp.Events().AppendEmpty()
				if e != 1 {
					ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(e)*time.Millisecond + 1)))
					ev.SetName("exception")
				}
				ev.Attributes().PutStr("exception.message", fmt.Sprintf("failed → %d", k))
				ev.Attributes().PutInt("attempt", int64(e))
				ev.SetDroppedAttributesCount(uint32(e))
			}
			if k%4 == 1 {
				l := sp.Links().AppendEmpty()
				l.SetTraceID(pcommon.TraceID(testID(k+7, 5, 16)))
				l.SetSpanID(pcommon.SpanID(testID(k+7, 3, 8)))
				l.TraceState().FromRaw("a=b")
				l.SetFlags(1)
				l.Attributes().PutStr("link.kind", "follows")
				l.SetDroppedAttributesCount(2)
			}
			if k%8 == 5 {
				sp.Links().AppendEmpty() // every field unset
			}
			i++
		}
	}
	return td
}

func hexOrNil(id []byte, empty bool) any {
	if empty {
		return nil
	}
	return hex.EncodeToString(id)
}

func timeOrNil(t pcommon.Timestamp) (micros, nanos any) {
	if t == 0 {
		return nil, nil
	}
	return int64(t) / 1000, int64(t)
}

func attrMap(m pcommon.Map) map[string]any {
	out := map[string]any{}
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = v.AsString()
		return true
	})
	return out
}

// canonicalSpanRows renders the rows an exporter configured by
// testTracesConfig should write for td, in readRowsGo's canonical JSON.
func canonicalSpanRows(t *testing.T, td ptrace.Traces) []string {
	t.Helper()
	var out []string
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := map[string]any{}
		var svc, host any
		rs.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
			switch k {
			case "service.name":
				svc = v.Str()
			case "host.name":
				host = v.Str()
			default:
				res[k] = v.AsString()
			}
			return true
		})
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
				kind := sp.Kind().String()
				if kind == "" {
					kind = fmt.Sprint(int(sp.Kind()))
				}
				r := map[string]any{
					"start_time": int64(sp.StartTimestamp()) / 1000, "start_time_unix_nano": int64(sp.StartTimestamp()),
					"duration_ns": nil,
					"trace_id":    hexOrNil(tid[:], tid.IsEmpty()), "span_id": hexOrNil(sid[:], sid.IsEmpty()),
					"parent_span_id": hexOrNil(pid[:], pid.IsEmpty()),
					"trace_state":    nilIfEmpty(sp.TraceState().AsRaw()), "flags": int64(sp.Flags()),
					"name": nilIfEmpty(sp.Name()), "kind": kind, "status_code": sp.Status().Code().String(),
					"status_message": nilIfEmpty(sp.Status().Message()), "service_name": svc,
					"scope_name": nilIfEmpty(ss.Scope().Name()), "scope_version": nilIfEmpty(ss.Scope().Version()),
					"dropped_attributes_count": int64(sp.DroppedAttributesCount()),
					"dropped_events_count":     int64(sp.DroppedEventsCount()),
					"dropped_links_count":      int64(sp.DroppedLinksCount()),
					"http_route":               nil, "http_response_status_code": nil, "host": host,
					"resource_attributes": res,
				}
				r["end_time"], r["end_time_unix_nano"] = timeOrNil(sp.EndTimestamp())
				if sp.EndTimestamp() != 0 {
					r["duration_ns"] = int64(sp.EndTimestamp()) - int64(sp.StartTimestamp())
				}
				attrs := map[string]any{}
				sp.Attributes().Range(func(k string, v pcommon.Value) bool {
					switch {
					case k == "http.route" && v.Type() == pcommon.ValueTypeStr:
						r["http_route"] = v.Str()
					case k == "http.response.status_code" && v.Type() == pcommon.ValueTypeInt:
						r["http_response_status_code"] = v.Int()
					default:
						attrs[k] = v.AsString()
					}
					return true
				})
				r["attributes"] = attrs
				events := []any{}
				for e := 0; e < sp.Events().Len(); e++ {
					ev := sp.Events().At(e)
					m := map[string]any{
						"name": nilIfEmpty(ev.Name()), "attributes": attrMap(ev.Attributes()),
						"dropped_attributes_count": int64(ev.DroppedAttributesCount()),
					}
					m["time"], m["time_unix_nano"] = timeOrNil(ev.Timestamp())
					events = append(events, m)
				}
				r["events"] = events
				links := []any{}
				for l := 0; l < sp.Links().Len(); l++ {
					lk := sp.Links().At(l)
					ltid, lsid := lk.TraceID(), lk.SpanID()
					links = append(links, map[string]any{
						"trace_id": hexOrNil(ltid[:], ltid.IsEmpty()), "span_id": hexOrNil(lsid[:], lsid.IsEmpty()),
						"trace_state": nilIfEmpty(lk.TraceState().AsRaw()), "flags": int64(lk.Flags()),
						"attributes": attrMap(lk.Attributes()), "dropped_attributes_count": int64(lk.DroppedAttributesCount()),
					})
				}
				r["links"] = links
				out = append(out, canonicalJSON(t, r))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestFactoryExportTracesAndLogsRoundTrip runs one configured exporter in a
// logs and a traces pipeline, as a collector does: each signal gets its own
// partitions and staging, and both read back exactly.
func TestFactoryExportTracesAndLogsRoundTrip(t *testing.T) {
	cfg := testTracesConfig(t)
	set := exportertest.NewNopSettings(pmetadata.Type)
	traces, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	logs, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, traces.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, logs.Start(context.Background(), componenttest.NewNopHost()))
	td := genTraces(900, 0, "checkout", "pay/ments=eu", "")
	wantSpans := canonicalSpanRows(t, td)
	ld := genLogs(300, 0, "checkout")
	wantLogs := canonicalRows(t, ld)
	require.NoError(t, traces.ConsumeTraces(context.Background(), td))
	require.NoError(t, logs.ConsumeLogs(context.Background(), ld))
	require.NoError(t, traces.Shutdown(context.Background()))
	require.NoError(t, logs.Shutdown(context.Background()))

	root := cfg.Storage.Local.Path
	spanLayout, err := logarchive.NewLayout(cfg.Traces.PathTemplate)
	require.NoError(t, err)
	var spans, logRows []string
	services := map[string]bool{}
	for _, f := range archiveFiles(t, root) {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		af, err := spanLayout.ParseFilePath(filepath.ToSlash(rel))
		require.NoError(t, err, rel)
		switch af.Partition.Signal {
		case logarchive.SignalTraces:
			services[af.Partition.Service] = true
			assert.Equal(t, baseTime, af.Partition.Start)
			assertSortedBy(t, f, logarchive.ColStartTime)
			spans = append(spans, readRowsGo(t, f)...)
		case logarchive.SignalLogs:
			logRows = append(logRows, readRowsGo(t, f)...)
		default:
			t.Fatalf("file of unknown signal: %s", rel)
		}
	}
	sort.Strings(spans)
	sort.Strings(logRows)
	assert.Equal(t, map[string]bool{"checkout": true, "pay/ments=eu": true, "": true}, services)
	assert.Equal(t, wantSpans, spans)
	assert.Equal(t, wantLogs, logRows)
	assertStagingEmpty(t, cfg)
}

// assertSortedBy checks rows of a single-service file are ordered by col.
func assertSortedBy(t *testing.T, path, col string) {
	t.Helper()
	var prev int64
	for i, r := range readRowsGo(t, path) {
		ts := jsonInt(t, r, col)
		require.GreaterOrEqual(t, ts, prev, "row %d of %s out of order", i, path)
		prev = ts
	}
}

// TestTracesFileMetadata checks the span files carry what readers prune
// with: sorting columns (service_name, start_time), a trace_id bloom filter
// that finds a written id, and the signal in the stored Arrow schema.
func TestTracesFileMetadata(t *testing.T) {
	cfg := testTracesConfig(t)
	e := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	td := genTraces(400, 0, "api")
	require.NoError(t, e.pushTraces(context.Background(), td))
	require.NoError(t, e.shutdown(context.Background()))
	files := archiveFiles(t, cfg.Storage.Local.Path)
	require.Len(t, files, 1)
	assert.Contains(t, files[0], filepath.Join("traces", "service=api", "dt=2026-03-01", "hour=10"))

	pf, err := file.OpenParquetFile(files[0], false)
	require.NoError(t, err)
	defer pf.Close()
	md := pf.MetaData()
	rg := md.RowGroup(0)
	sc := md.Schema
	svcCol := sc.ColumnIndexByName(logarchive.ColServiceName)
	startCol := sc.ColumnIndexByName(logarchive.ColStartTime)
	traceCol := sc.ColumnIndexByName(logarchive.ColTraceID)
	require.GreaterOrEqual(t, svcCol, 0)
	sorting := rg.SortingColumns()
	require.Len(t, sorting, 2)
	assert.Equal(t, int32(svcCol), sorting[0].ColumnIdx)
	assert.Equal(t, int32(startCol), sorting[1].ColumnIdx)

	bfr, err := pf.GetBloomFilterReader().RowGroup(0)
	require.NoError(t, err)
	bf, err := bfr.GetColumnBloomFilter(traceCol)
	require.NoError(t, err)
	require.NotNil(t, bf, "trace_id bloom filter")
	typed := metadata.TypedBloomFilter[parquet.FixedLenByteArray]{BloomFilter: bf}
	written := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(5).TraceID()
	assert.True(t, typed.Check(written[:]), "written trace id must hit")
	misses := 0
	for i := 0; i < 100; i++ {
		absent := testID(1_000_000+i, 7, 16)
		if !typed.Check(parquet.FixedLenByteArray(absent)) {
			misses++
		}
	}
	assert.Greater(t, misses, 90, "absent trace ids must mostly miss")

	kv := md.KeyValueMetadata()
	require.NotNil(t, kv)
	assert.NotEmpty(t, kv.FindValue("ARROW:schema"))
}

// TestTracesRecoveryAndSeparateStaging crashes a traces exporter with staged
// spans: a logs exporter of the same component on the same staging
// directory must leave them alone, and the next traces exporter publishes them.
func TestTracesRecoveryAndSeparateStaging(t *testing.T) {
	cfg := testTracesConfig(t)
	e := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	var want []string
	for b := 0; b < 4; b++ {
		td := genTraces(100, b*100, "svc")
		want = append(want, canonicalSpanRows(t, td)...)
		require.NoError(t, e.pushTraces(context.Background(), td))
	}
	sort.Strings(want)
	crash(e)
	journals, err := filepath.Glob(filepath.Join(e.stagingDir, "*"+journal.Extension))
	require.NoError(t, err)
	require.Len(t, journals, 1)
	appendTornFrame(t, journals[0]) // after the last acknowledged append

	logsExp := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, logsExp.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, logsExp.shutdown(context.Background()))
	assert.Empty(t, archiveFiles(t, cfg.Storage.Local.Path), "logs exporter must not publish span journals")
	assert.FileExists(t, journals[0])

	e2 := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e2.shutdown(context.Background()))
	assert.Equal(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	assertStagingEmpty(t, cfg)
}

func TestTracesRollAndRetention(t *testing.T) {
	cfg := testTracesConfig(t)
	cfg.Roll.MaxRows = 100
	cfg.Retention.MaxAge = 48 * time.Hour
	now := baseTime.Add(72 * time.Hour)
	e := newTestTracesExporter(t, cfg, func() time.Time { return now })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.pushTraces(context.Background(), genTraces(100, 0, "old")))
	require.NoError(t, e.pushTraces(context.Background(), genTraces(100, 100, "old")))
	require.NoError(t, e.publishPending(context.Background()))
	// Each push reached max_rows and rolled its file without sealAll.
	files := archiveFiles(t, cfg.Storage.Local.Path)
	require.Len(t, files, 2)
	// A log partition of the same age belongs to the logs instance's retention.
	logDir := filepath.Join(cfg.Storage.Local.Path, "logs", "service=old", "dt=2026-03-01", "hour=10")
	require.NoError(t, os.MkdirAll(logDir, 0o755))
	e.applyRetention(now)
	require.NoError(t, e.shutdown(context.Background()))
	assert.Empty(t, archiveFiles(t, filepath.Join(cfg.Storage.Local.Path, "traces")))
	assert.DirExists(t, logDir)
}

func TestPushTracesEmptyAndStagingFull(t *testing.T) {
	cfg := testTracesConfig(t)
	cfg.Staging.MaxSize = 1
	cfg.Roll.MaxBytes = 1
	e := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.pushTraces(context.Background(), ptrace.NewTraces()))
	e.mu.Lock()
	e.staged = 1 // as if uploads were behind
	e.mu.Unlock()
	err := e.pushTraces(context.Background(), genTraces(1, 0))
	require.ErrorIs(t, err, errStagingFull)
	e.mu.Lock()
	e.staged = 0
	e.mu.Unlock()
	require.NoError(t, e.shutdown(context.Background()))
}

// TestConcurrentPushesRoundTripExact pushes logs and spans from several
// goroutines into two exporters while small files are published in the
// background, so recycled Arrow buffers (internal/bufpool) pass between
// encoding, journal read-back and sorting all the time; every row must
// come back exactly once with its exact values.
func TestConcurrentPushesRoundTripExact(t *testing.T) {
	cfg := testTracesConfig(t)
	cfg.Roll.MaxRows = 250
	le := newTestExporter(t, cfg, func() time.Time { return baseTime })
	te := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, le.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, te.start(context.Background(), componenttest.NewNopHost()))
	const workers, pushes, batch = 3, 8, 120
	var wantLogs, wantSpans []string
	logInputs := make([][]plog.Logs, workers)
	spanInputs := make([][]ptrace.Traces, workers)
	for w := 0; w < workers; w++ {
		for p := 0; p < pushes; p++ {
			offset := (w*pushes + p) * batch
			ld := genLogs(batch, offset, "a", "b")
			td := genTraces(batch, offset, "a", "b", "")
			wantLogs = append(wantLogs, canonicalRows(t, ld)...)
			wantSpans = append(wantSpans, canonicalSpanRows(t, td)...)
			logInputs[w] = append(logInputs[w], ld)
			spanInputs[w] = append(spanInputs[w], td)
		}
	}
	errs := make(chan error, 2*workers*pushes)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, ld := range logInputs[w] {
				errs <- le.pushLogs(context.Background(), ld)
			}
		}()
		go func() {
			defer wg.Done()
			for _, td := range spanInputs[w] {
				errs <- te.pushTraces(context.Background(), td)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, le.shutdown(context.Background()))
	require.NoError(t, te.shutdown(context.Background()))

	sort.Strings(wantLogs)
	sort.Strings(wantSpans)
	root := cfg.Storage.Local.Path
	assert.Equal(t, wantLogs, readArchiveGo(t, filepath.Join(root, logarchive.SignalLogs)))
	assert.Equal(t, wantSpans, readArchiveGo(t, filepath.Join(root, logarchive.SignalTraces)))
	assert.Greater(t, len(archiveFiles(t, root)), 10, "small files: publishing ran alongside the pushes")
}
