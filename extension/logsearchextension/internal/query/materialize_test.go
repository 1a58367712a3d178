package query

import (
	"bytes"
	"context"
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

// readRange is one ReadAt call.
type readRange struct{ off, n int64 }

// readCounter records every read a query makes, per file.
type readCounter struct {
	archive.Store
	mu    sync.Mutex
	reads map[string][]readRange
}

func (s *readCounter) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	r, err := s.Store.Open(ctx, obj)
	if err != nil {
		return nil, err
	}
	return &readCountedObject{ReadAtCloser: r, s: s, key: obj.Key}, nil
}

func (s *readCounter) take() map[string][]readRange {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = map[string][]readRange{}
	return r
}

type readCountedObject struct {
	archive.ReadAtCloser
	s   *readCounter
	key string
}

func (o *readCountedObject) ReadAt(p []byte, off int64) (int, error) {
	o.s.mu.Lock()
	o.s.reads[o.key] = append(o.s.reads[o.key], readRange{off: off, n: int64(len(p))})
	o.s.mu.Unlock()
	return o.ReadAtCloser.ReadAt(p, off)
}

// materializeArchive writes one file of 600 records in 12 row groups of 50,
// every 5th record matching the keyword: a page of 30 matches takes about
// 10 rows from each of 3–4 row groups, so rows are sought one by one.
func materializeArchive(t *testing.T) (string, *logarchive.Layout, []archivetest.Row) {
	t.Helper()
	spec := archivetest.Spec{
		Records: 600, Start: t0, Span: 50 * time.Minute, Services: []string{"checkout"}, TraceEvery: 3,
		Keyword: "DECLINED", KeywordEvery: 5,
	}
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = archivetest.WriteArchive(dir, layout, spec.Rows(), 1, archivetest.Options{RowGroupRows: 50})
	require.NoError(t, err)
	return dir, layout, spec.Rows()
}

// Fetching a page of rows reads each column chunk of a row group at most
// once more after the scan, however many of the page's rows it holds, and
// the rest of the file (footer, page index) a bounded number of times per
// row group, not per row.
func TestMaterializeReadsEachColumnChunkOnce(t *testing.T) {
	dir, layout, rows := materializeArchive(t)
	for _, tc := range []struct {
		name        string
		budgetBytes int64
	}{
		{"seek-in-memory", defaultMaterializeCacheBytes},
		{"stream-above-budget", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &readCounter{Store: archive.NewLocalStore(dir), reads: map[string][]readRange{}}
			e, err := New(Options{Store: store, Layout: layout, FooterCacheSize: 10, Allocator: memory.NewGoAllocator(), BatchSize: 64})
			require.NoError(t, err)
			e.materializeCacheBytes = tc.budgetBytes
			ctx := context.Background()
			f := Filter{Keyword: "declined"}
			_, err = e.Search(ctx, f, 30, nil) // warm the footer cache
			require.NoError(t, err)
			store.take()

			res, err := e.Search(ctx, f, 30, nil)
			require.NoError(t, err)
			want := expected(rows, func(r archivetest.Row) bool { return strings.Contains(r.Body, "DECLINED") })
			require.Len(t, res.Records, 30)
			assert.Equal(t, rowBodies(want[:30]), bodies(res.Records))

			reads := store.take()
			require.Len(t, reads, 1)
			var fileReads []readRange
			for _, r := range reads {
				fileReads = r
			}
			md := footerOf(t, e, dir).Meta
			perChunk := map[[2]int]int{}
			other := 0
			for _, r := range fileReads {
				inChunk := false
				for rg := 0; rg < md.NumRowGroups(); rg++ {
					rgm := md.RowGroup(rg)
					for c := 0; c < rgm.NumColumns(); c++ {
						start, length, err := chunkRange(rgm, c)
						require.NoError(t, err)
						if r.off < start+length && start < r.off+r.n {
							perChunk[[2]int{rg, c}]++
							inChunk = true
						}
					}
				}
				if !inChunk {
					other++
				}
			}
			touched := map[int]bool{}
			for k, n := range perChunk {
				touched[k[0]] = true
				// Once by the scan (timestamp, body), once to fetch the rows.
				assert.LessOrEqual(t, n, 2, "row group %d column %d read %d times", k[0], k[1], n)
			}
			// The page index at most once per row group fetched from.
			assert.LessOrEqual(t, other, len(touched), "reads outside column chunks")
			t.Logf("%d reads for a page of %d rows from %d row groups × %d columns", len(fileReads), len(res.Records), len(touched), md.RowGroup(0).NumColumns())
		})
	}
}

// footerOf returns the parsed footer of the only file of the archive in dir.
func footerOf(t *testing.T, e *Engine, dir string) *archive.FileInfo {
	t.Helper()
	objs, err := archive.NewLocalStore(dir).List(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, objs, 1)
	rdr, fi, err := e.footers.Open(context.Background(), archive.NewLocalStore(dir), objs[0])
	require.NoError(t, err)
	require.NoError(t, rdr.Close())
	return fi
}

// Fetching rows through the chunk cache returns exactly the records, order
// and stats of reading them without it (seeking every row from the file),
// or of streaming the row groups (when they exceed the budget), for pages
// that seek rows one by one and pages that stream, and for traces.
func TestMaterializeCacheKeepsResults(t *testing.T) {
	dir, layout, _ := materializeArchive(t)
	newEngine := func(cacheBytes int64) *Engine {
		e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout, FooterCacheSize: 10, Allocator: memory.NewGoAllocator(), BatchSize: 64})
		require.NoError(t, err)
		e.materializeCacheBytes = cacheBytes
		return e
	}
	// A budget below any row group streams the row groups instead.
	cached, streamed, direct := newEngine(defaultMaterializeCacheBytes), newEngine(1), newEngine(0)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		f     Filter
		limit int
	}{
		{"seek", Filter{Keyword: "declined"}, 30},
		{"stream", Filter{}, 120},
		{"one", Filter{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cur *Cursor
			pages := 0
			for ; pages < 100; pages++ {
				a, err := cached.Search(ctx, tc.f, tc.limit, cur)
				require.NoError(t, err)
				b, err := direct.Search(ctx, tc.f, tc.limit, cur)
				require.NoError(t, err)
				require.Equal(t, b, a)
				c, err := streamed.Search(ctx, tc.f, tc.limit, cur)
				require.NoError(t, err)
				require.Equal(t, b, c)
				if a.Next == nil {
					break
				}
				cur = a.Next
			}
			assert.Greater(t, pages, 0)
		})
	}
	a, err := cached.Trace(ctx, archivetest.TraceID(7), time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	b, err := direct.Trace(ctx, archivetest.TraceID(7), time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	require.NotEmpty(t, a.Records)
	assert.Equal(t, b, a)
	c, err := streamed.Trace(ctx, archivetest.TraceID(7), time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	assert.Equal(t, b, c)
}

// bytesObject is an in-memory object counting the reads that reach it.
type bytesObject struct {
	*bytes.Reader
	reads int
}

func (o *bytesObject) ReadAt(p []byte, off int64) (int, error) {
	o.reads++
	return o.Reader.ReadAt(p, off)
}

func (o *bytesObject) Close() error { return nil }

// Reads inside a fetched span are served from memory; reads reaching past
// a span's edge go to the object.
func TestSpanReaderServesReadsInsideSpans(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	obj := &bytesObject{Reader: bytes.NewReader(data)}
	r := &spanReader{ReadAtCloser: obj}
	require.NoError(t, r.fetch(context.Background(), []byteRange{{off: 100, n: 100}, {off: 500, n: 50}}))
	require.Equal(t, 2, obj.reads)
	for _, tc := range []struct {
		off, n    int64
		fromCache bool
	}{
		{100, 100, true},
		{150, 10, true},
		{500, 50, true},
		{549, 1, true},
		{120, 0, true},
		{90, 20, false},
		{190, 20, false},
		{300, 10, false},
		{540, 20, false},
		{0, 10, false},
	} {
		before := obj.reads
		p := make([]byte, tc.n)
		n, err := r.ReadAt(p, tc.off)
		require.NoError(t, err)
		assert.Equal(t, int(tc.n), n)
		assert.Equal(t, data[tc.off:tc.off+tc.n], p, "read %d+%d", tc.off, tc.n)
		assert.Equal(t, tc.fromCache, obj.reads == before, "read %d+%d from memory", tc.off, tc.n)
	}
	// A range past the end of the object is an error, not a short span.
	r = &spanReader{ReadAtCloser: obj}
	require.Error(t, r.fetch(context.Background(), []byteRange{{off: 990, n: 20}}))
}
