package query

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

var testSpec = archivetest.Spec{
	Records: 3000, Start: t0, Span: 3 * time.Hour,
	Services: []string{"checkout", "payments", "frontend"}, TraceEvery: 3,
	Keyword: "DECLINED", KeywordEvery: 97,
}

var (
	archivesMu   sync.Mutex
	archivesRoot string
	archives     = map[string]string{}
)

// testArchive writes testSpec once per (template, options) for the whole
// test binary (small row groups so pruning has work) and returns its root.
func testArchive(t *testing.T, layout *logarchive.Layout, o archivetest.Options) string {
	t.Helper()
	archivesMu.Lock()
	defer archivesMu.Unlock()
	key := fmt.Sprintf("%s|%+v", layout.Template(), o)
	if dir, ok := archives[key]; ok {
		return dir
	}
	if archivesRoot == "" {
		root, err := os.MkdirTemp("", "logsearch-query-test-")
		require.NoError(t, err)
		archivesRoot = root
	}
	dir := filepath.Join(archivesRoot, strconv.Itoa(len(archives)))
	_, err := archivetest.WriteArchive(dir, layout, testSpec.Rows(), 1, o)
	require.NoError(t, err)
	archives[key] = dir
	return dir
}

func removeTestArchives() {
	if archivesRoot != "" {
		os.RemoveAll(archivesRoot)
	}
}

// newTestEngine returns an engine over the test archive for template and
// the rows it holds.
func newTestEngine(t *testing.T, template string, o archivetest.Options) (*Engine, []archivetest.Row) {
	t.Helper()
	layout, err := logarchive.NewLayout(template)
	require.NoError(t, err)
	if o.RowGroupRows == 0 {
		o.RowGroupRows = 100
	}
	dir := testArchive(t, layout, o)
	// Not a CheckedAllocator: arrow-go v18.8.0's delta-bit-packing decoder
	// never frees its block buffers to the allocator (the Go GC does), which
	// a checked allocator reports as a leak.
	e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout, FooterCacheSize: 100, Allocator: memory.NewGoAllocator(), BatchSize: 64})
	require.NoError(t, err)
	return e, testSpec.Rows()
}

// expected filters rows the slow way, newest first.
func expected(rows []archivetest.Row, keep func(archivetest.Row) bool) []archivetest.Row {
	var out []archivetest.Row
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

func bodies(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Body
	}
	return out
}

func rowBodies(rows []archivetest.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Body
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	e, rows := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	from, to := t0.Add(30*time.Minute), t0.Add(150*time.Minute)
	tests := []struct {
		name   string
		filter Filter
		keep   func(archivetest.Row) bool
	}{
		{"all", Filter{}, func(archivetest.Row) bool { return true }},
		{"time range", Filter{From: from, To: to}, func(r archivetest.Row) bool { return !r.Time.Before(from) && r.Time.Before(to) }},
		{"service", Filter{Service: "payments", HasService: true}, func(r archivetest.Row) bool { return r.Service == "payments" }},
		{"severity", Filter{MinSeverity: 13}, func(r archivetest.Row) bool { return r.Severity >= 13 }},
		{"keyword ignores case", Filter{Keyword: "declined"}, func(r archivetest.Row) bool { return strings.Contains(r.Body, "DECLINED") }},
		{"attribute", Filter{Attributes: []AttributeMatch{{Key: "user.id", Value: "u42"}}}, func(r archivetest.Row) bool { return r.Attributes["user.id"] == "u42" }},
		{"resource attribute", Filter{Attributes: []AttributeMatch{{Key: "host.name", Value: "node-2"}}}, func(archivetest.Row) bool { return false }},
		{"service.name attribute", Filter{Attributes: []AttributeMatch{{Key: "service.name", Value: "frontend"}}}, func(r archivetest.Row) bool { return r.Service == "frontend" }},
		{"combined", Filter{From: from, To: to, Service: "checkout", HasService: true, MinSeverity: 13, Keyword: "handled"}, func(r archivetest.Row) bool {
			return !r.Time.Before(from) && r.Time.Before(to) && r.Service == "checkout" && r.Severity >= 13 && strings.Contains(r.Body, "handled")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := expected(rows, tt.keep)
			res, err := e.Search(context.Background(), tt.filter, 25, nil)
			require.NoError(t, err)
			n := min(25, len(want))
			assert.Equal(t, rowBodies(want[:n]), bodies(res.Records))
			assert.Equal(t, len(want) > 25, res.Next != nil)
		})
	}
}

func TestSearchPagesThroughEverything(t *testing.T) {
	e, rows := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	f := Filter{MinSeverity: 13}
	want := expected(rows, func(r archivetest.Row) bool { return r.Severity >= 13 })
	var got []string
	var cur *Cursor
	for page := 0; page < 100; page++ {
		res, err := e.Search(context.Background(), f, 80, cur)
		require.NoError(t, err)
		got = append(got, bodies(res.Records)...)
		if res.Next == nil {
			break
		}
		c, err := ParseCursor(res.Next.Encode())
		require.NoError(t, err)
		cur = &c
	}
	assert.Equal(t, rowBodies(want), got)
}

func TestSearchPrunes(t *testing.T) {
	e, _ := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	// One hour, one service: partition pruning leaves one file.
	res, err := e.Search(context.Background(), Filter{From: t0.Add(time.Hour), To: t0.Add(70 * time.Minute), Service: "checkout", HasService: true}, 10, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Stats.FilesScanned)
	// The service narrows the listing to checkout's directories; its other
	// two hours are skipped by their paths.
	assert.Equal(t, 2, res.Stats.FilesSkippedPartition)
	assert.Positive(t, res.Stats.RowGroupsSkippedStatistics, "row groups outside 10 minutes skipped by timestamp statistics")
	// Newest 10 of everything: the limit stops the scan early.
	res, err = e.Search(context.Background(), Filter{}, 10, nil)
	require.NoError(t, err)
	assert.Positive(t, res.Stats.RowGroupsSkippedLimit)
	assert.Less(t, res.Stats.RowGroupsScanned, 10)
}

func TestTraceTimeline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bloom bool
	}{{"bloom", true}, {"no bloom", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e, rows := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{NoBloom: !tc.bloom})
			id := archivetest.TraceID(734)
			res, err := e.Trace(context.Background(), id, time.Time{}, time.Time{}, 100)
			require.NoError(t, err)
			var want []string
			for _, r := range rows {
				if r.TraceID == id {
					want = append(want, r.Body)
				}
			}
			require.Len(t, want, 3)
			assert.Equal(t, want, bodies(res.Records), "oldest first across services")
			assert.False(t, res.Truncated)
			services := map[string]bool{}
			for _, r := range res.Records {
				services[r.ServiceName] = true
				assert.Equal(t, hex.EncodeToString(id[:]), r.TraceID)
				assert.Equal(t, "node-1", r.Resource["host.name"])
				assert.NotEmpty(t, r.Attributes["user.id"])
				assert.NotEmpty(t, r.SpanID)
			}
			assert.Len(t, services, 3)
			// With a time range the scan also reads timestamps; same answer.
			ranged, err := e.Trace(context.Background(), id, t0, t0.Add(3*time.Hour), 100)
			require.NoError(t, err)
			assert.Equal(t, want, bodies(ranged.Records))
			none, err := e.Trace(context.Background(), id, t0, t0.Add(time.Minute), 100)
			require.NoError(t, err)
			assert.Empty(t, none.Records, "outside the range")
			if tc.bloom {
				assert.Positive(t, res.Stats.RowGroupsSkippedBloom)
				assert.LessOrEqual(t, res.Stats.RowGroupsScanned, 5)
			} else {
				assert.Zero(t, res.Stats.RowGroupsSkippedBloom)
			}
		})
	}
}

func TestTraceTruncates(t *testing.T) {
	e, _ := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	res, err := e.Trace(context.Background(), archivetest.TraceID(7), time.Time{}, time.Time{}, 2)
	require.NoError(t, err)
	assert.Len(t, res.Records, 2)
	assert.True(t, res.Truncated)
	res, err = e.Trace(context.Background(), [16]byte{1}, time.Time{}, time.Time{}, 2)
	require.NoError(t, err)
	assert.Empty(t, res.Records)
}

func TestTruncatedTraceKeepsOldestAcrossFiles(t *testing.T) {
	// Service "a" sorts first by file key but holds the newer records;
	// enough of them to pass the scan bound (traceScanFactor × 1) before
	// service "b"'s older file would be read in key order.
	id := archivetest.TraceID(5)
	var rows []archivetest.Row
	for h := 2; h < 8; h++ {
		for i := 0; i < 2*traceScanFactor; i++ {
			rows = append(rows, archivetest.Row{Time: t0.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Second), Service: "a", Body: "new", TraceID: id})
		}
	}
	rows = append(rows, archivetest.Row{Time: t0, Service: "b", Body: "oldest", TraceID: id})
	e, _ := newRowsEngine(t, rows)
	res, err := e.Trace(context.Background(), id, time.Time{}, time.Time{}, 1)
	require.NoError(t, err)
	assert.True(t, res.Truncated)
	require.Len(t, res.Records, 1)
	assert.Equal(t, "oldest", res.Records[0].Body)
	assert.Positive(t, res.Stats.RowGroupsSkippedLimit, "the scan bound was reached")
}

func TestHistogram(t *testing.T) {
	e, rows := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	res, err := e.Histogram(context.Background(), Filter{From: t0, To: t0.Add(3 * time.Hour), Keyword: "handled"}, 6)
	require.NoError(t, err)
	require.Len(t, res.Buckets, 6)
	want := make([][]int64, 6)
	for i := range want {
		want[i] = make([]int64, len(SeverityClasses))
	}
	var total int64
	for _, r := range rows {
		if strings.Contains(r.Body, "handled") {
			want[int(r.Time.Sub(t0)/(30*time.Minute))][severityClass(r.Severity)]++
			total++
		}
	}
	for i, b := range res.Buckets {
		assert.Equal(t, t0.Add(time.Duration(i)*30*time.Minute), b.Start)
		assert.Equal(t, want[i], b.Counts, "bucket %d", i)
	}
	assert.Equal(t, total, res.Total)
	_, err = e.Histogram(context.Background(), Filter{}, 6)
	assert.EqualError(t, err, "histogram needs from < to")
}

func TestServices(t *testing.T) {
	for _, tmpl := range []string{logarchive.DefaultTemplate, "{signal}/dt={date}/hour={hour}"} {
		t.Run(tmpl, func(t *testing.T) {
			e, _ := newTestEngine(t, tmpl, archivetest.Options{})
			res, err := e.Services(context.Background(), time.Time{}, time.Time{}, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"checkout", "frontend", "payments"}, res.Services)
			_, err = e.Services(context.Background(), time.Time{}, time.Time{}, 2)
			assert.EqualError(t, err, "more than 2 services")
		})
	}
}

func TestUnpartitionedByServiceSearch(t *testing.T) {
	e, rows := newTestEngine(t, "{signal}/dt={date}", archivetest.Options{})
	want := expected(rows, func(r archivetest.Row) bool { return r.Service == "payments" && r.Severity >= 17 })
	res, err := e.Search(context.Background(), Filter{Service: "payments", HasService: true, MinSeverity: 17}, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, rowBodies(want[:5]), bodies(res.Records))
	assert.Positive(t, res.Stats.RowGroupsSkippedStatistics, "service statistics prune other services' row groups")
}

func TestNoServiceStillPrunesNamedServices(t *testing.T) {
	e, _ := newTestEngine(t, "{signal}/dt={date}", archivetest.Options{})
	res, err := e.Search(context.Background(), Filter{HasService: true}, 5, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Records)
	assert.Zero(t, res.Stats.RowGroupsScanned, "every row group has a non-empty minimum and no nulls")
	assert.Positive(t, res.Stats.RowGroupsSkippedStatistics)
}

func TestEmptyAndMissingArchive(t *testing.T) {
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	e, err := New(Options{Store: archive.NewLocalStore(t.TempDir() + "/missing"), Layout: layout})
	require.NoError(t, err)
	res, err := e.Search(context.Background(), Filter{}, 10, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Records)
	assert.Nil(t, res.Next)
}

func TestCanceledQuery(t *testing.T) {
	e, _ := newTestEngine(t, logarchive.DefaultTemplate, archivetest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Search(ctx, Filter{Keyword: "x"}, 10, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestParseCursorRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "!!", "YWJj", Cursor{File: ""}.Encode()} {
		_, err := ParseCursor(s)
		assert.Error(t, err, s)
	}
	c := Cursor{TimeMicros: -5, File: "logs/a|b.parquet", Row: 9}
	got, err := ParseCursor(c.Encode())
	require.NoError(t, err)
	assert.Equal(t, c, got)
}
