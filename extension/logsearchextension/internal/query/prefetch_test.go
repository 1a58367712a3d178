package query

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
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

// manyFilesSpec spreads records over 12 hourly partitions of 3 services;
// written by two writers it makes 72 files of 3 row groups.
var manyFilesSpec = archivetest.Spec{
	Records: 720, Start: t0, Span: 12 * time.Hour,
	Services: []string{"checkout", "payments", "frontend"}, TraceEvery: 3,
	Keyword: "DECLINED", KeywordEvery: 97,
}

const manyFiles = 72

var (
	manyFilesOnce sync.Once
	manyFilesDir  string
	manyFilesErr  error
)

// manyFilesArchive returns a copy (tests may delete files) of the archive
// of manyFilesSpec, written once per test binary with alternate records
// by two writers, so each partition holds two files.
func manyFilesArchive(t testing.TB) (string, *logarchive.Layout) {
	t.Helper()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	manyFilesOnce.Do(func() {
		var even, odd []archivetest.Row
		for i, r := range manyFilesSpec.Rows() {
			if i%2 == 0 {
				even = append(even, r)
			} else {
				odd = append(odd, r)
			}
		}
		archivesMu.Lock()
		defer archivesMu.Unlock()
		if archivesRoot == "" {
			if archivesRoot, manyFilesErr = os.MkdirTemp("", "logsearch-query-test-"); manyFilesErr != nil {
				return
			}
		}
		manyFilesDir = filepath.Join(archivesRoot, "many-files")
		if _, manyFilesErr = archivetest.WriteArchive(manyFilesDir, layout, even, 1, archivetest.Options{RowGroupRows: 4}); manyFilesErr != nil {
			return
		}
		_, manyFilesErr = archivetest.WriteArchive(manyFilesDir, layout, odd, 1000, archivetest.Options{RowGroupRows: 4, Writer: "w2"})
	})
	require.NoError(t, manyFilesErr)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(manyFilesDir)))
	return dir, layout
}

// planSummary is what a plan holds, comparable across engines.
type planSummary struct {
	Files     []string
	RowGroups []int // row groups of each file's footer
	Groups    []rowGroupRef
	Stats     Stats
}

func summarize(e *Engine, f Filter) (planSummary, error) {
	var st Stats
	p, err := e.plan(context.Background(), &f, &st)
	if err != nil {
		return planSummary{}, err
	}
	s := planSummary{Groups: p.groups, Stats: st}
	for i, af := range p.files {
		s.Files = append(s.Files, af.Key)
		s.RowGroups = append(s.RowGroups, p.infos[i].Meta.NumRowGroups())
	}
	return s, nil
}

var planFilters = map[string]Filter{
	"all":      {},
	"range":    {From: t0.Add(150 * time.Minute), To: t0.Add(7 * time.Hour)},
	"severity": {MinSeverity: 17},
	"service":  {Service: "payments", HasService: true},
	"trace":    {TraceID: archivetest.TraceID(200), HasTraceID: true},
	"trace in range": {
		TraceID: archivetest.TraceID(50), HasTraceID: true,
		From: t0, To: t0.Add(3 * time.Hour),
	},
}

// jitterStore delays opens by up to 3 ms, varying by file, so footers read
// in parallel finish out of listing order.
type jitterStore struct{ archive.Store }

func (s jitterStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	h := fnv.New32a()
	h.Write([]byte(obj.Key))
	time.Sleep(time.Duration(h.Sum32()%4) * time.Millisecond)
	return s.Store.Open(ctx, obj)
}

// Footers read in parallel make the same plan, stats and all, as footers
// read one at a time.
func TestPlanInParallelEqualsSequential(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	newEngine := func(concurrency int) *Engine {
		e, err := New(Options{Store: jitterStore{archive.NewLocalStore(dir)}, Layout: layout, FooterConcurrency: concurrency, Allocator: memory.NewGoAllocator()})
		require.NoError(t, err)
		return e
	}
	sequential := newEngine(1)
	for name, f := range planFilters {
		t.Run(name, func(t *testing.T) {
			want, err := summarize(sequential, f)
			require.NoError(t, err)
			require.NotEmpty(t, want.Groups)
			for _, concurrency := range []int{2, 5, 16, 1000} {
				got, err := summarize(newEngine(concurrency), f)
				require.NoError(t, err)
				assert.Equal(t, want, got, "footer concurrency %d", concurrency)
			}
		})
	}
}

// Files deleted since the listing are skipped and counted at the same
// place of the plan, whichever way their deletion shows.
func TestPlanInParallelSkipsDeletedFilesAsSequential(t *testing.T) {
	plans := map[int]planSummary{}
	for _, concurrency := range []int{1, 8} {
		dir, layout := manyFilesArchive(t)
		e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout})
		require.NoError(t, err)
		lr, err := e.catalog.Select(context.Background(), archive.Selection{})
		require.NoError(t, err)
		// One file fails with a plain "not found", a listed ghost with an
		// opaque error (gone from the next listing).
		ghost := layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, "payments", t0.Add(5*time.Hour)), Writer: "gone", Seq: 9})
		store := &retentionStore{Store: archive.NewLocalStore(dir), root: dir, ghost: ghost, deleteKey: lr.Files[len(lr.Files)/2].Key, deleteAtOpen: 1}
		e, err = New(Options{Store: store, Layout: layout, FooterConcurrency: concurrency})
		require.NoError(t, err)
		plans[concurrency], err = summarize(e, Filter{})
		require.NoError(t, err)
		assert.Equal(t, 2, plans[concurrency].Stats.FilesSkippedMissing)
		assert.Len(t, plans[concurrency].Files, len(lr.Files)-1)
	}
	assert.Equal(t, plans[1], plans[8])
}

// failingStore fails opening some files with an error that does not say
// they are gone (they stay listed). The open of holdKey waits until
// another failing file has failed, so in parallel a later file fails first.
type failingStore struct {
	archive.Store
	fail    map[string]error
	holdKey string
	failed  chan struct{}
	once    sync.Once
}

func (s *failingStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	err, ok := s.fail[obj.Key]
	if !ok {
		return s.Store.Open(ctx, obj)
	}
	if obj.Key == s.holdKey {
		// The bound only matters if the other file is never opened.
		select {
		case <-s.failed:
			// Fail well after it, so that an error taken in the order the
			// reads end would be the other one.
			time.Sleep(100 * time.Millisecond)
		case <-time.After(2 * time.Second):
		}
		return nil, err
	}
	s.once.Do(func() { close(s.failed) })
	return nil, err
}

// With several files failing, the plan fails with the error of the first in
// listing order, as reading footers one at a time does, even when a later
// one fails first.
func TestPlanInParallelReturnsFirstFileError(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	e, err := New(Options{Store: archive.NewLocalStore(dir), Layout: layout})
	require.NoError(t, err)
	lr, err := e.catalog.Select(context.Background(), archive.Selection{})
	require.NoError(t, err)
	first, later := lr.Files[3].Key, lr.Files[5].Key
	errs := map[int]error{}
	for _, concurrency := range []int{1, 8} {
		store := &failingStore{
			Store:  archive.NewLocalStore(dir),
			fail:   map[string]error{first: errors.New("first: connection reset"), later: errors.New("later: connection reset")},
			failed: make(chan struct{}),
		}
		if concurrency > 1 {
			store.holdKey = first
		}
		e, err := New(Options{Store: store, Layout: layout, FooterConcurrency: concurrency})
		require.NoError(t, err)
		_, errs[concurrency] = summarize(e, Filter{})
		require.Error(t, errs[concurrency])
	}
	assert.ErrorContains(t, errs[1], "first: connection reset")
	assert.Equal(t, errs[1].Error(), errs[8].Error())
}

// cancelStore cancels the query when the nth file is opened.
type cancelStore struct {
	archive.Store
	cancel context.CancelFunc
	n      int
	mu     sync.Mutex
	opens  int
}

func (s *cancelStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	s.mu.Lock()
	s.opens++
	if s.opens == s.n {
		s.cancel()
	}
	s.mu.Unlock()
	return s.Store.Open(ctx, obj)
}

// A cancelled query stops reading footers and returns the context's error;
// TestMain's leak check shows no read is left running.
func TestPlanInParallelStopsWhenCancelled(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &cancelStore{Store: archive.NewLocalStore(dir), cancel: cancel, n: 5}
	e, err := New(Options{Store: store, Layout: layout, FooterConcurrency: 4})
	require.NoError(t, err)
	var st Stats
	_, err = e.plan(ctx, &Filter{}, &st)
	require.ErrorIs(t, err, context.Canceled)
	store.mu.Lock()
	defer store.mu.Unlock()
	assert.Less(t, store.opens, 5+4, "no footer is read after the cancellation but those already started")
}

// concurrencyStore records the most files open at once (a footer read
// keeps its file open until pruning is done). The first gate opens wait
// until gate files are open together, so a reader that reads fewer at
// once does not reach gate (it waits at most 2 s per open, once).
type concurrencyStore struct {
	archive.Store
	gate int

	mu       sync.Mutex
	open     int
	maxOpen  int
	opens    int
	released chan struct{}
	release  sync.Once
}

func newConcurrencyStore(s archive.Store, gate int) *concurrencyStore {
	return &concurrencyStore{Store: s, gate: gate, released: make(chan struct{})}
}

func (s *concurrencyStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	s.mu.Lock()
	s.open++
	s.maxOpen = max(s.maxOpen, s.open)
	s.opens++
	hold := s.opens <= s.gate
	if s.open >= s.gate {
		s.release.Do(func() { close(s.released) })
	}
	s.mu.Unlock()
	if hold {
		select {
		case <-s.released:
		case <-time.After(2 * time.Second):
			s.release.Do(func() { close(s.released) })
		}
	}
	r, err := s.Store.Open(ctx, obj)
	if err != nil {
		s.closed()
		return nil, err
	}
	return &countedObject{ReadAtCloser: r, s: s}, nil
}

func (s *concurrencyStore) closed() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

func (s *concurrencyStore) max() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxOpen
}

type countedObject struct {
	archive.ReadAtCloser
	s    *concurrencyStore
	once sync.Once
}

func (o *countedObject) Close() error {
	o.once.Do(o.s.closed)
	return o.ReadAtCloser.Close()
}

// Histograms, services and trace lookups read footer_concurrency footers
// at once, never more.
func TestPlanReadsFootersConcurrentlyWithinBound(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	const bound = 4
	for _, tc := range []struct {
		name string
		run  func(e *Engine) error
	}{
		{"histogram", func(e *Engine) error {
			_, err := e.Histogram(context.Background(), Filter{From: t0, To: t0.Add(12 * time.Hour)}, 10)
			return err
		}},
		{"trace", func(e *Engine) error {
			_, err := e.Trace(context.Background(), archivetest.TraceID(7), time.Time{}, time.Time{}, 100)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newConcurrencyStore(archive.NewLocalStore(dir), bound)
			e, err := New(Options{Store: store, Layout: layout, FooterConcurrency: bound})
			require.NoError(t, err)
			require.NoError(t, tc.run(e))
			assert.Equal(t, bound, store.max())
		})
	}
}

// A search reads the footers of the files ending at the same time together
// (within the bound), and no more footers than one at a time would.
func TestSearchReadsFootersOfOnePartitionEndTogether(t *testing.T) {
	dir, layout := manyFilesArchive(t)
	// The newest 20 records lie in the newest hour: 3 services × 2 files.
	const newestFiles = 6
	for _, concurrency := range []int{4, 16} {
		store := newConcurrencyStore(&openCounter{Store: archive.NewLocalStore(dir), opened: map[string]bool{}}, min(concurrency, newestFiles))
		e, err := New(Options{Store: store, Layout: layout, FooterConcurrency: concurrency})
		require.NoError(t, err)
		res, err := e.Search(context.Background(), Filter{}, 20, nil)
		require.NoError(t, err)
		require.Len(t, res.Records, 20)
		assert.Equal(t, min(concurrency, newestFiles), store.max(), "footer concurrency %d", concurrency)
		opened := store.Store.(*openCounter).take()
		assert.Equal(t, newestFiles, opened, "footer concurrency %d", concurrency)
		assert.Equal(t, manyFiles-newestFiles, res.Stats.FilesSkippedLimit)
	}
}
