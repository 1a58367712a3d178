package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Benchmark archives are generated once and kept in the temp directory
// (keyed by size), so repeated runs measure queries, not generation.
// LOGSEARCH_BENCH_RECORDS sets the trace-lookup archive size (default 1 M;
// the target is measured with 10000000).
func benchArchive(b *testing.B, records int) (*Engine, archivetest.Spec) {
	b.Helper()
	spec := archivetest.Spec{
		Records: records, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 6 * time.Hour,
		Services: []string{"checkout", "payments", "frontend", "inventory"}, TraceEvery: 4,
		Keyword: "declined", KeywordEvery: 1000,
	}
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sluice-logsearch-bench-v3-%d", records))
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(dir)
		start := time.Now()
		n, err := archivetest.WriteSpec(dir, layout, spec, archivetest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d records in %d files in %s (%s)", records, n, time.Since(start).Round(time.Second), dir)
	}
	e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout, FooterCacheSize: 4096})
	if err != nil {
		b.Fatal(err)
	}
	return e, spec
}

func benchRecords(b *testing.B) int {
	if s := os.Getenv("LOGSEARCH_BENCH_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("LOGSEARCH_BENCH_RECORDS=%q is not a positive integer", s)
		}
		return n
	}
	return 1_000_000
}

// reportPercentiles adds p50/p95 latency metrics to a benchmark.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.95), "p95-ms")
}

// BenchmarkTraceLookup fetches the timeline of a random trace (4 records
// across services) from the whole archive, with no time range.
func BenchmarkTraceLookup(b *testing.B) {
	records := benchRecords(b)
	e, spec := benchArchive(b, records)
	ctx := context.Background()
	traces := records / spec.TraceEvery
	// Warm the footer cache, as a running extension would be.
	if _, err := e.Trace(ctx, archivetest.TraceID(0), time.Time{}, time.Time{}, 100); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	i := 0
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		n := (i * 7919) % traces
		i++
		start := time.Now()
		res, err := e.Trace(ctx, archivetest.TraceID(n), time.Time{}, time.Time{}, 1000)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Records) != spec.TraceEvery {
			b.Fatalf("trace %d: %d records, want %d", n, len(res.Records), spec.TraceEvery)
		}
	}
	b.ReportMetric(float64(records), "records")
	b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	reportPercentiles(b, lat)
}

// BenchmarkKeywordSearch searches 1 M records (the whole time range) for a
// case-insensitive keyword in the body, newest 100 first, and also runs
// the matching histogram (which must read every row).
func BenchmarkKeywordSearch(b *testing.B) {
	const records = 1_000_000
	e, spec := benchArchive(b, records)
	ctx := context.Background()
	f := Filter{From: spec.Start, To: spec.Start.Add(spec.Span), Keyword: "DECLINED"}
	b.Run("search", func(b *testing.B) {
		b.ReportAllocs()
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			res, err := e.Search(ctx, f, 100, nil)
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Records) != 100 {
				b.Fatalf("%d records", len(res.Records))
			}
		}
		reportPercentiles(b, lat)
	})
	b.Run("histogram", func(b *testing.B) {
		b.ReportAllocs()
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			res, err := e.Histogram(ctx, f, 60)
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if res.Total != int64(records/spec.KeywordEvery) {
				b.Fatalf("total %d", res.Total)
			}
		}
		b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		reportPercentiles(b, lat)
	})
}

// BenchmarkKeywordMatch is the per-row cost of the keyword test alone, over
// the bodies of BenchmarkKeywordSearch (1 in 1000 matches) and over
// non-ASCII text.
func BenchmarkKeywordMatch(b *testing.B) {
	spec := archivetest.Spec{Records: 1000, Start: time.Unix(0, 0), Span: time.Hour, Services: []string{"checkout", "payments"}, Keyword: "declined", KeywordEvery: 1000}
	ascii := make([]string, spec.Records)
	for i := range ascii {
		ascii[i] = spec.Row(i).Body
	}
	other := make([]string, len(ascii))
	for i, s := range ascii {
		other[i] = "Zahlung für Bestellung – " + s
	}
	for _, c := range []struct {
		name, keyword string
		bodies        []string
	}{
		{"ascii", "DECLINED", ascii},
		{"ascii-keyword-unicode-body", "declined", other},
		{"ascii-keyword-with-s-unicode-body", "PAYMENTS", other},
		{"unicode-keyword", "FÜR", other},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := newKeywordMatcher(c.keyword)
			hits := 0
			for b.Loop() {
				for _, s := range c.bodies {
					if m.match(s) {
						hits++
					}
				}
			}
			if hits == 0 {
				b.Fatal("no match")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.bodies)), "ns/row")
		})
	}
}

// s3Latency is the simulated round trip of one ranged GET.
const s3Latency = 20 * time.Millisecond

// latencyStore simulates S3 over a local archive: opening an object is
// free (S3Store.Open sends no request), every read waits s3Latency and is
// counted in reads.
type latencyStore struct {
	archive.Store
	reads *atomic.Int64
}

func (s latencyStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	r, err := s.Store.Open(ctx, obj)
	if err != nil {
		return nil, err
	}
	return latencyObject{r, s.reads}, nil
}

type latencyObject struct {
	archive.ReadAtCloser
	reads *atomic.Int64
}

func (o latencyObject) ReadAt(p []byte, off int64) (int, error) {
	o.reads.Add(1)
	time.Sleep(s3Latency)
	return o.ReadAtCloser.ReadAt(p, off)
}

// footerBenchArchive writes (once, kept in the temp directory) a day of
// 12 services in hourly partitions without the service in the path, each
// service by its own writer: 288 files of one service each, so the
// services list is decided from footers alone.
func footerBenchArchive(b *testing.B) (string, *logarchive.Layout, archivetest.Spec) {
	b.Helper()
	spec := archivetest.Spec{
		Records: 288 * 50, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour, TraceEvery: 4,
		Services: []string{"checkout", "payments", "frontend", "inventory", "shipping", "search", "auth", "cart", "email", "ads", "quote", "currency"},
	}
	layout, err := logarchive.NewLayout("{signal}/dt={date}/hour={hour}")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), "sluice-logsearch-bench-footers-v1")
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(dir)
		byService := map[string][]archivetest.Row{}
		for _, r := range spec.Rows() {
			byService[r.Service] = append(byService[r.Service], r)
		}
		for i, svc := range spec.Services {
			if _, err := archivetest.WriteArchive(dir, layout, byService[svc], uint64(i)*1000, archivetest.Options{Writer: svc}); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir, layout, spec
}

// BenchmarkFooterLatency runs queries that read every footer of a day
// (288 files; a search for the newest 100 records only those of the newest
// hour) over a store adding 20 ms to every read, as S3 would, with a cold
// footer cache, reading footers one at a time (as before
// footer_concurrency) and 16 at a time.
func BenchmarkFooterLatency(b *testing.B) {
	dir, layout, spec := footerBenchArchive(b)
	ctx := context.Background()
	from, to := spec.Start, spec.Start.Add(spec.Span)
	queries := []struct {
		name string
		run  func(e *Engine) error
	}{
		{"histogram", func(e *Engine) error {
			res, err := e.Histogram(ctx, Filter{From: from, To: to}, 60)
			if err == nil && res.Total != int64(spec.Records) {
				err = fmt.Errorf("histogram total %d, want %d", res.Total, spec.Records)
			}
			return err
		}},
		{"services", func(e *Engine) error {
			res, err := e.Services(ctx, from, to, 100)
			if err == nil && len(res.Services) != len(spec.Services) {
				err = fmt.Errorf("%d services, want %d", len(res.Services), len(spec.Services))
			}
			return err
		}},
		{"search", func(e *Engine) error {
			res, err := e.Search(ctx, Filter{From: from, To: to}, 100, nil)
			if err == nil && len(res.Records) != 100 {
				err = fmt.Errorf("%d records, want 100", len(res.Records))
			}
			return err
		}},
		{"trace", func(e *Engine) error {
			res, err := e.Trace(ctx, archivetest.TraceID(1000), from, to, 100)
			if err == nil && len(res.Records) != spec.TraceEvery {
				err = fmt.Errorf("%d trace records, want %d", len(res.Records), spec.TraceEvery)
			}
			return err
		}},
	}
	for _, q := range queries {
		for _, concurrency := range []int{1, DefaultFooterConcurrency} {
			b.Run(fmt.Sprintf("%s/footer_concurrency=%d", q.name, concurrency), func(b *testing.B) {
				var reads atomic.Int64
				for b.Loop() {
					// A new engine per query: the footer cache starts cold.
					e, err := New(Options{Store: latencyStore{archive.NewLocalStore(dir), &reads}, Layout: layout, FooterConcurrency: concurrency})
					if err != nil {
						b.Fatal(err)
					}
					if err := q.run(e); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
				b.ReportMetric(float64(reads.Load())/float64(b.N), "reads/query")
			})
		}
	}
}
