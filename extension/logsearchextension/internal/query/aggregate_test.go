package query

import (
	"context"
	"fmt"
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

// newRowsEngine returns an engine over an archive of exactly rows, in its
// own directory (for tests needing unusual records).
func newRowsEngine(t *testing.T, rows []archivetest.Row) (*Engine, string) {
	t.Helper()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = archivetest.WriteArchive(dir, layout, rows, 1, archivetest.Options{})
	require.NoError(t, err)
	e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout, FooterCacheSize: 100, Allocator: memory.NewGoAllocator()})
	require.NoError(t, err)
	return e, dir
}

func histogramTotals(res *HistogramResult) []int64 {
	out := make([]int64, len(res.Buckets))
	for i, b := range res.Buckets {
		for _, c := range b.Counts {
			out[i] += c
		}
	}
	return out
}

func TestHistogramRejectsRangeBelowResolution(t *testing.T) {
	e, _ := newRowsEngine(t, []archivetest.Row{{Time: t0, Service: "a", Body: "x", Severity: 9}})
	// Half a microsecond holds no whole bucket; the record at t0 passes the
	// (microsecond) row filter and must not index a bucket that is not there.
	_, err := e.Histogram(context.Background(), Filter{From: t0.Add(500 * time.Nanosecond), To: t0.Add(time.Microsecond)}, 60)
	require.EqualError(t, err, "histogram range must be at least 1µs")

	// The same record just before a sub-microsecond from lands in the first
	// bucket, like the row filter says, and buckets never go below 1 µs.
	res, err := e.Histogram(context.Background(), Filter{From: t0.Add(500 * time.Nanosecond), To: t0.Add(2500 * time.Nanosecond)}, 60)
	require.NoError(t, err)
	assert.Len(t, res.Buckets, 2)
	assert.Equal(t, []int64{1, 0}, histogramTotals(res))
}

func TestHistogramFractionalBucketWidth(t *testing.T) {
	var rows []archivetest.Row
	for i := 0; i < 90; i++ {
		rows = append(rows, archivetest.Row{Time: t0.Add(time.Duration(i) * time.Microsecond), Service: "a", Body: fmt.Sprint(i), Severity: 9})
	}
	e, _ := newRowsEngine(t, rows)
	// 90 µs in 60 buckets of 1.5 µs: records alternate 1, 2, 1, 2, …
	res, err := e.Histogram(context.Background(), Filter{From: t0, To: t0.Add(90 * time.Microsecond)}, 60)
	require.NoError(t, err)
	require.Len(t, res.Buckets, 60)
	want := make([]int64, 60)
	for i := range want {
		want[i] = 1 + int64(i%2)
		assert.Equal(t, t0.Add(time.Duration(i)*1500*time.Nanosecond), res.Buckets[i].Start, "bucket %d", i)
	}
	assert.Equal(t, want, histogramTotals(res))
	assert.InDelta(t, 0.0015, res.WidthMillis, 1e-12)
	assert.EqualValues(t, 90, res.Total)
}

func TestHistogramFarFutureRange(t *testing.T) {
	late := time.Date(2300, 6, 1, 0, 0, 0, 0, time.UTC)
	e, _ := newRowsEngine(t, []archivetest.Row{
		{Time: t0, Service: "a", Body: "now", Severity: 9},
		{Time: late, Service: "a", Body: "late", Severity: 17},
	})
	// 974 years: more than a time.Duration holds.
	to := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := e.Histogram(context.Background(), Filter{From: t0, To: to}, 4)
	require.NoError(t, err)
	require.Len(t, res.Buckets, 4)
	spanSec := to.Unix() - t0.Unix() // both whole seconds
	for i, b := range res.Buckets {
		q := spanSec * int64(i)
		want := time.Unix(t0.Unix()+q/4, q%4*int64(time.Second)/4).UTC()
		assert.Equal(t, want, b.Start, "bucket %d", i)
	}
	assert.True(t, res.Buckets[3].Start.Before(to) && res.Buckets[3].Start.After(time.Date(2700, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, []int64{1, 1, 0, 0}, histogramTotals(res), "2300 is in the second quarter of 2026-3000")
	assert.InDelta(t, float64(spanSec)*1000/4, res.WidthMillis, 1)
}

// readOverlapStore records how many ReadAt calls are in flight at once;
// each read takes a little while, as a ranged GET on S3 does.
type readOverlapStore struct {
	archive.Store
	mu                sync.Mutex
	inFlight, maxSeen int
}

func (s *readOverlapStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	r, err := s.Store.Open(ctx, obj)
	if err != nil {
		return nil, err
	}
	return &overlapObject{ReadAtCloser: r, s: s}, nil
}

func (s *readOverlapStore) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.maxSeen
	s.maxSeen = 0
	return m
}

type overlapObject struct {
	archive.ReadAtCloser
	s *readOverlapStore
}

func (o *overlapObject) ReadAt(p []byte, off int64) (int, error) {
	o.s.mu.Lock()
	o.s.inFlight++
	o.s.maxSeen = max(o.s.maxSeen, o.s.inFlight)
	o.s.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	n, err := o.ReadAtCloser.ReadAt(p, off)
	o.s.mu.Lock()
	o.s.inFlight--
	o.s.mu.Unlock()
	return n, err
}

// A histogram reads several row groups at once (footers cached, so only
// row-group reads remain) and counts the same as the slow way.
func TestHistogramScansRowGroupsConcurrently(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	store := &readOverlapStore{Store: archive.NewLocalStore(dir)}
	e, err := New(Options{Store: store, Layout: layout, FooterCacheSize: 1000, Allocator: memory.NewGoAllocator()})
	require.NoError(t, err)
	f := Filter{From: t0, To: t0.Add(12 * time.Hour)}
	first, err := e.Histogram(context.Background(), f, 12)
	require.NoError(t, err)
	store.reset()
	res, err := e.Histogram(context.Background(), f, 12)
	require.NoError(t, err)
	assert.Greater(t, store.reset(), 1, "row groups were read one at a time")
	assert.Equal(t, first.Buckets, res.Buckets)

	want := make([]int64, 12)
	var total int64
	for _, r := range manyFilesSpec.Rows() {
		if !r.Time.Before(f.From) && r.Time.Before(f.To) {
			want[int(r.Time.Sub(t0)/time.Hour)]++
			total++
		}
	}
	assert.Equal(t, want, histogramTotals(res))
	assert.Equal(t, total, res.Total)
	assert.Positive(t, res.Stats.RowGroupsScanned)
}
