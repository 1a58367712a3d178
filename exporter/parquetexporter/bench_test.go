package parquetexporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/journal"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/pqbuild"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/rowenc"
	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/internal/logarchive"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// requestLogs builds n request-shaped log records (5 services, HTTP
// attributes, 70 % with trace context), deterministic for a seed.
func requestLogs(n int, seed uint64) plog.Logs {
	rng := rand.New(rand.NewPCG(seed, 7))
	ld := plog.NewLogs()
	services := []string{"checkout", "cart", "search", "payments", "frontend"}
	routes := []string{"/api/v1/items/{id}", "/api/v1/cart", "/api/v1/search", "/api/v1/pay", "/healthz", "/api/v1/users/{id}"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	statuses := []int64{200, 200, 200, 200, 201, 204, 301, 400, 404, 500}
	agents := []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0", "Go-http-client/2.0"}
	per := n / len(services)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for s, svc := range services {
		rl := ld.ResourceLogs().AppendEmpty()
		ra := rl.Resource().Attributes()
		ra.PutStr("service.name", svc)
		ra.PutStr("service.version", "1.4.2")
		ra.PutStr("host.name", fmt.Sprintf("node-%02d", s))
		ra.PutStr("k8s.pod.name", fmt.Sprintf("%s-7d9f8c-%05d", svc, s*7919))
		ra.PutStr("deployment.environment", "prod")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("http.server")
		lrs := sl.LogRecords()
		lrs.EnsureCapacity(per)
		for i := 0; i < per; i++ {
			lr := lrs.AppendEmpty()
			ts := t0.Add(time.Duration(i)*time.Millisecond*10 + time.Duration(rng.IntN(1000))*time.Microsecond)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(3 * time.Millisecond)))
			r := rng.IntN(len(routes))
			status := statuses[rng.IntN(len(statuses))]
			sev, text := plog.SeverityNumberInfo, "INFO"
			if status >= 500 {
				sev, text = plog.SeverityNumberError, "ERROR"
			} else if status >= 400 {
				sev, text = plog.SeverityNumberWarn, "WARN"
			}
			lr.SetSeverityNumber(sev)
			lr.SetSeverityText(text)
			path := fmt.Sprintf("/api/v1/items/%d", rng.IntN(5000))
			dur := rng.IntN(900) + 1
			lr.Body().SetStr(fmt.Sprintf("%s %s %d %dms", methods[r], path, status, dur))
			if rng.IntN(10) < 7 {
				var tid [16]byte
				var sid [8]byte
				for b := range tid {
					tid[b] = byte(rng.Uint32())
				}
				for b := range sid {
					sid[b] = byte(rng.Uint32())
				}
				lr.SetTraceID(tid)
				lr.SetSpanID(sid)
				lr.SetFlags(1)
			}
			a := lr.Attributes()
			a.PutStr("http.request.method", methods[r])
			a.PutStr("http.route", routes[r])
			a.PutInt("http.response.status_code", status)
			a.PutStr("url.path", path)
			a.PutStr("user_agent.original", agents[rng.IntN(len(agents))])
			a.PutStr("client.address", fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(256)))
			a.PutDouble("http.server.duration_ms", float64(dur))
		}
	}
	return ld
}

var benchPromoted = []logarchive.PromotedColumn{
	{Column: "http_status", Key: "http.response.status_code", Source: logarchive.SourceRecord, Type: logarchive.TypeInt},
	{Column: "http_route", Key: "http.route", Source: logarchive.SourceRecord, Type: logarchive.TypeString},
	{Column: "host_name", Key: "host.name", Source: logarchive.SourceResource, Type: logarchive.TypeString},
}

func benchEncoder(b *testing.B) *rowenc.Encoder {
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := rowenc.NewEncoder(benchPromoted, layout, arrowMem)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

var benchPQ = pqbuild.Options{
	CompressionLevel: defaultCompressionLevel, RowGroupRows: defaultRowGroupRows, DataPageSize: defaultDataPageSize,
	PageIndex: true, BloomFilter: true, BloomFilterNDV: defaultBloomNDV, BloomFilterFPP: defaultBloomFPP, MapDictionary: true,
}

// BenchmarkEndToEnd measures the whole write path for 100k request-shaped
// records arriving in 10 batches: pdata → Arrow (rowenc) → per-partition
// journal append (no fsync) → journal read-back → sorted Parquet (zstd-3,
// bloom filter, page index), one file per service partition. Reports rows/s
// and Parquet bytes/row.
func BenchmarkEndToEnd(b *testing.B) {
	const rows, batchesPerRun = 100_000, 10
	var inputs []plog.Logs
	for i := 0; i < batchesPerRun; i++ {
		inputs = append(inputs, requestLogs(rows/batchesPerRun, uint64(i)))
	}
	enc := benchEncoder(b)
	runEndToEnd(b, rows, enc.Schema(), len(inputs), func(i int) ([]rowenc.Batch, error) {
		return enc.Encode(inputs[i], logarchive.SignalLogs, time.Now())
	})
}

// BenchmarkEndToEndSpans is BenchmarkEndToEnd for 100k spans (genTraces:
// every field set or unset, events on two thirds, links on a third).
func BenchmarkEndToEndSpans(b *testing.B) {
	const rows, batchesPerRun = 100_000, 10
	var inputs []ptrace.Traces
	for i := 0; i < batchesPerRun; i++ {
		inputs = append(inputs, genTraces(rows/batchesPerRun, i*rows/batchesPerRun, "checkout", "cart", "search", "payments", "frontend"))
	}
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := rowenc.NewSpanEncoder(nil, layout, arrowMem)
	if err != nil {
		b.Fatal(err)
	}
	runEndToEnd(b, rows, enc.Schema(), len(inputs), func(i int) ([]rowenc.Batch, error) {
		return enc.Encode(inputs[i], time.Now())
	})
}

// runEndToEnd runs encode(0..inputs-1) per iteration through journals and
// Parquet files, one per service partition, and reports the figures.
func runEndToEnd(b *testing.B, rows int, schema *arrow.Schema, inputs int, encode func(i int) ([]rowenc.Batch, error)) {
	mem := arrowMem // the exporter's allocator
	var out bytes.Buffer
	var parquetBytes int64
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		journals := map[string]*journal.Writer{}
		for in := 0; in < inputs; in++ {
			batches, err := encode(in)
			if err != nil {
				b.Fatal(err)
			}
			for _, bt := range batches {
				w := journals[bt.Partition.Service]
				if w == nil {
					w, err = journal.Create(filepath.Join(dir, bt.Partition.Service+journal.Extension), journal.Header{File: "x"}, schema, mem, false)
					if err != nil {
						b.Fatal(err)
					}
					journals[bt.Partition.Service] = w
				}
				if err := w.Append(bt.Record); err != nil {
					b.Fatal(err)
				}
				bt.Record.Release()
			}
		}
		for svc, w := range journals {
			_ = w.Close()
			c, err := journal.Read(filepath.Join(dir, svc+journal.Extension), mem)
			if err != nil {
				b.Fatal(err)
			}
			out.Reset()
			if _, err := pqbuild.Write(context.Background(), &out, c.Schema, c.Records, benchPQ, mem); err != nil {
				b.Fatal(err)
			}
			parquetBytes += int64(out.Len())
			c.Release()
		}
	}
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		// Per CPU second of the whole process (GC included): the "per core"
		// figure, less disturbed by neighbours on a shared machine.
		b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
	}
	b.ReportMetric(float64(parquetBytes)/float64(rows*b.N), "parquetB/row")
}

// BenchmarkRowEncode measures pdata → Arrow only.
func BenchmarkRowEncode(b *testing.B) {
	const rows = 8192
	ld := requestLogs(rows, 1)
	enc := benchEncoder(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batches, err := enc.Encode(ld, logarchive.SignalLogs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			bt.Record.Release()
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParquetBuild measures sorting and writing one 100k-row file.
func BenchmarkParquetBuild(b *testing.B) {
	const rows = 100_000
	layout, _ := logarchive.NewLayout("{signal}/dt={date}") // one file with all services
	enc, _ := rowenc.NewEncoder(benchPromoted, layout, memory.DefaultAllocator)
	batches, err := enc.Encode(requestLogs(rows, 2), logarchive.SignalLogs, time.Now())
	if err != nil || len(batches) != 1 {
		b.Fatalf("encode: %v, %d batches", err, len(batches))
	}
	rec := batches[0].Record
	defer rec.Release()
	var out bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		out.Reset()
		if _, err := pqbuild.Write(context.Background(), &out, enc.Schema(), []arrow.RecordBatch{rec}, benchPQ, arrowMem); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
	}
	b.ReportMetric(float64(out.Len())/rows, "parquetB/row")
}

// BenchmarkArchiveSize compares bytes per record for the same 100k
// request-shaped records: OTLP JSON (contrib file exporter format), flat JSON
// lines (same columns as the archive), flat JSON lines + zstd, and our
// Parquet (one file, default settings).
func BenchmarkArchiveSize(b *testing.B) {
	const rows = 100_000
	ld := requestLogs(rows, 3)
	otlp, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if err != nil {
		b.Fatal(err)
	}
	flat := flatJSONLines(ld)
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf, zstd.WithEncoderLevel(zstd.SpeedDefault))
	_, _ = zw.Write(flat)
	_ = zw.Close()

	layout, _ := logarchive.NewLayout("{signal}/dt={date}")
	enc, _ := rowenc.NewEncoder(benchPromoted, layout, memory.DefaultAllocator)
	var pq bytes.Buffer
	for i := 0; i < b.N; i++ {
		batches, err := enc.Encode(ld, logarchive.SignalLogs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		pq.Reset()
		if _, err := pqbuild.Write(context.Background(), &pq, enc.Schema(), []arrow.RecordBatch{batches[0].Record}, benchPQ, memory.DefaultAllocator); err != nil {
			b.Fatal(err)
		}
		batches[0].Record.Release()
	}
	// A small file (what a quiet service publishes every roll.max_age):
	// fixed per-file costs such as the bloom filter show here.
	const smallRows = 10_000
	small, err := enc.Encode(requestLogs(smallRows, 4), logarchive.SignalLogs, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var pqSmall bytes.Buffer
	if _, err := pqbuild.Write(context.Background(), &pqSmall, enc.Schema(), []arrow.RecordBatch{small[0].Record}, benchPQ, memory.DefaultAllocator); err != nil {
		b.Fatal(err)
	}
	small[0].Record.Release()
	b.ReportMetric(float64(pqSmall.Len())/smallRows, "parquet10k_B/rec")
	b.ReportMetric(float64(len(otlp))/rows, "otlpJSON_B/rec")
	b.ReportMetric(float64(len(flat))/rows, "flatJSON_B/rec")
	b.ReportMetric(float64(zbuf.Len())/rows, "flatJSONzstd_B/rec")
	b.ReportMetric(float64(pq.Len())/rows, "parquet_B/rec")
	b.ReportMetric(float64(len(otlp))/float64(pq.Len()), "x_smaller_than_OTLP_JSON")
}

// TestWriteComparisonInputs writes the benchmark's 100k records as flat JSON
// lines and as our Parquet file into $SLUICE_PARQUET_COMPARE_DIR, for a
// side-by-side size comparison with DuckDB (see README "Figures").
func TestWriteComparisonInputs(t *testing.T) {
	dir := os.Getenv("SLUICE_PARQUET_COMPARE_DIR")
	if dir == "" {
		t.Skip("set SLUICE_PARQUET_COMPARE_DIR to write comparison inputs")
	}
	ld := requestLogs(100_000, 3)
	if err := os.WriteFile(filepath.Join(dir, "logs.jsonl"), flatJSONLines(ld), 0o600); err != nil {
		t.Fatal(err)
	}
	writeArchiveFile(t, ld, filepath.Join(dir, "sluice.parquet"))
}

// writeArchiveFile writes ld as one archive file at path, with the
// benchmarks' settings.
func writeArchiveFile(tb testing.TB, ld plog.Logs, path string) {
	tb.Helper()
	layout, _ := logarchive.NewLayout("{signal}/dt={date}")
	enc, _ := rowenc.NewEncoder(benchPromoted, layout, memory.DefaultAllocator)
	batches, err := enc.Encode(ld, logarchive.SignalLogs, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	defer batches[0].Record.Release()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := pqbuild.Write(context.Background(), f, enc.Schema(), []arrow.RecordBatch{batches[0].Record}, benchPQ, memory.DefaultAllocator); err != nil {
		tb.Fatal(err)
	}
}

// duckdbRewriteScript has DuckDB write the rows of our file (same columns,
// rows and order) with its own Parquet writer and zstd, checks both files
// hold the same rows, and prints the row count.
const duckdbRewriteScript = `
import sys, duckdb
ours, theirs = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"COPY (SELECT * FROM '{ours}') TO '{theirs}' (FORMAT parquet, COMPRESSION zstd)")
diff = con.execute(f"SELECT (SELECT count(*) FROM (SELECT * FROM '{ours}' EXCEPT ALL SELECT * FROM '{theirs}')) + (SELECT count(*) FROM (SELECT * FROM '{theirs}' EXCEPT ALL SELECT * FROM '{ours}'))").fetchone()[0]
assert diff == 0, f"{diff} rows differ"
print(con.execute(f"SELECT count(*) FROM '{ours}'").fetchone()[0])
`

// BenchmarkArchiveSizeVsDuckDB is the size comparison, side by
// side: our file for 100k request-shaped records, and DuckDB's own Parquet
// (zstd) of exactly those rows and columns. Needs python3 and PyPI (the
// duckdb wheel is installed once into testbed/.cache).
func BenchmarkArchiveSizeVsDuckDB(b *testing.B) {
	python, err := validate.PythonWithDuckDB(context.Background())
	if err != nil {
		b.Skipf("DuckDB not available: %v", err)
	}
	ld := requestLogs(100_000, 3)
	dir := b.TempDir()
	ours, theirs := filepath.Join(dir, "sluice.parquet"), filepath.Join(dir, "duckdb.parquet")
	var oursSize, theirsSize int64
	var rows float64
	for i := 0; i < b.N; i++ {
		writeArchiveFile(b, ld, ours)
		out, err := exec.Command(python, "-c", duckdbRewriteScript, ours, theirs).CombinedOutput()
		if err != nil {
			b.Fatalf("duckdb: %v: %s", err, out)
		}
		if rows, err = strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || rows != 100_000 {
			b.Fatalf("duckdb row count %q", out)
		}
		oursSize, theirsSize = fileSize(b, ours), fileSize(b, theirs)
	}
	b.ReportMetric(float64(oursSize)/rows, "sluice_B/rec")
	b.ReportMetric(float64(theirsSize)/rows, "duckdb_B/rec")
	b.ReportMetric(float64(oursSize)/float64(theirsSize), "sluice/duckdb")
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// flatJSONLines renders one JSON object per record with the archive's
// columns (the input a DuckDB comparison would load).
func flatJSONLines(ld plog.Logs) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	enc := json.NewEncoder(w)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes().AsRaw()
		svc := res["service.name"]
		delete(res, "service.name")
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				row := map[string]any{
					"timestamp": lr.Timestamp().AsTime().Format(time.RFC3339Nano), "time_unix_nano": int64(lr.Timestamp()),
					"observed_timestamp": lr.ObservedTimestamp().AsTime().Format(time.RFC3339Nano),
					"severity_number":    int(lr.SeverityNumber()), "severity_text": lr.SeverityText(),
					"body": lr.Body().AsString(), "flags": lr.Flags(), "service_name": svc,
					"scope_name": sls.At(j).Scope().Name(), "attributes": lr.Attributes().AsRaw(), "resource_attributes": res,
				}
				if !lr.TraceID().IsEmpty() {
					row["trace_id"] = lr.TraceID().String()
					row["span_id"] = lr.SpanID().String()
				}
				_ = enc.Encode(row)
			}
		}
	}
	_ = w.Flush()
	return buf.Bytes()
}
