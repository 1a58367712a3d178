package query

import (
	"context"
	"errors"
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

// retentionStore simulates retention deleting one file while queries run.
// With ghost set, the first listing also names a file that is already gone,
// and opening it fails with an error that does not say why (as a Parquet
// reader may report a failed S3 read); later listings omit it. With
// deleteKey set, the file is deleted from disk when it is opened for the
// (deleteAtOpen)th time.
type retentionStore struct {
	archive.Store
	root       string
	ghost      string
	ghostStays bool // listed every time, not only first

	deleteKey    string
	deleteAtOpen int

	mu     sync.Mutex
	listed bool
	opens  int
}

func (s *retentionStore) List(ctx context.Context, prefix string) ([]archive.Object, error) {
	objs, err := s.Store.List(ctx, prefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ghost != "" && (!s.listed || s.ghostStays) {
		objs = append(objs, archive.Object{Key: s.ghost, Size: 4096})
	}
	s.listed = true
	return objs, err
}

func (s *retentionStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	if obj.Key == s.ghost {
		return nil, errors.New("get object: connection reset")
	}
	if obj.Key == s.deleteKey {
		s.mu.Lock()
		s.opens++
		if s.opens == s.deleteAtOpen {
			if err := os.Remove(filepath.Join(s.root, filepath.FromSlash(obj.Key))); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		s.mu.Unlock()
	}
	return s.Store.Open(ctx, obj)
}

// retentionArchive writes 3 hourly files of one service and returns their
// keys (oldest first) and rows.
func retentionArchive(t *testing.T) (string, *logarchive.Layout, []string, []archivetest.Row) {
	t.Helper()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	var rows []archivetest.Row
	for i := 0; i < 30; i++ {
		rows = append(rows, archivetest.Row{
			Time: t0.Add(time.Duration(i) * 6 * time.Minute), Service: "a", Body: "rec", Severity: 9, TraceID: archivetest.TraceID(1),
		})
	}
	dir := t.TempDir()
	keys, err := archivetest.WriteArchive(dir, layout, rows, 1, archivetest.Options{})
	require.NoError(t, err)
	require.Len(t, keys, 3)
	return dir, layout, keys, rows
}

// queryKinds run each query type over the whole archive and return the
// records found and the stats.
var queryKinds = map[string]func(e *Engine) (int, Stats, error){
	"search": func(e *Engine) (int, Stats, error) {
		res, err := e.Search(context.Background(), Filter{}, 100, nil)
		if err != nil {
			return 0, Stats{}, err
		}
		return len(res.Records), res.Stats, nil
	},
	"histogram": func(e *Engine) (int, Stats, error) {
		res, err := e.Histogram(context.Background(), Filter{From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour)}, 4)
		if err != nil {
			return 0, Stats{}, err
		}
		return int(res.Total), res.Stats, nil
	},
	"trace": func(e *Engine) (int, Stats, error) {
		res, err := e.Trace(context.Background(), archivetest.TraceID(1), time.Time{}, time.Time{}, 100)
		if err != nil {
			return 0, Stats{}, err
		}
		return len(res.Records), res.Stats, nil
	},
}

func TestQueriesSkipFilesDeletedAfterListing(t *testing.T) {
	for name, run := range queryKinds {
		// Local: opening the deleted file fails with fs.ErrNotExist.
		t.Run(name+"/not exist on open", func(t *testing.T) {
			dir, layout, keys, _ := retentionArchive(t)
			e, err := New(Options{Store: &retentionStore{Store: archive.NewLocalStore(dir), root: dir, deleteKey: keys[0], deleteAtOpen: 1}, Layout: layout, Allocator: memory.NewGoAllocator()})
			require.NoError(t, err)
			n, st, err := run(e)
			require.NoError(t, err)
			assert.Equal(t, 20, n)
			assert.Equal(t, 1, st.FilesSkippedMissing)
		})
		// Opaque read error: a second listing shows the file is gone.
		t.Run(name+"/opaque error, gone from listing", func(t *testing.T) {
			dir, layout, _, _ := retentionArchive(t)
			ghost := layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, "a", t0.Add(-time.Hour)), Writer: "gone", Seq: 9})
			e, err := New(Options{Store: &retentionStore{Store: archive.NewLocalStore(dir), root: dir, ghost: ghost}, Layout: layout, Allocator: memory.NewGoAllocator()})
			require.NoError(t, err)
			n, st, err := run(e)
			require.NoError(t, err)
			assert.Equal(t, 30, n)
			assert.Equal(t, 1, st.FilesSkippedMissing)
		})
	}
}

func TestReadErrorOfListedFileFailsTheQuery(t *testing.T) {
	dir, layout, _, _ := retentionArchive(t)
	ghost := layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, "a", t0.Add(-time.Hour)), Writer: "gone", Seq: 9})
	e, err := New(Options{Store: &retentionStore{Store: archive.NewLocalStore(dir), root: dir, ghost: ghost, ghostStays: true}, Layout: layout})
	require.NoError(t, err)
	// A limit above the archive's 30 records: the search must read every
	// file (with a smaller one it stops before the oldest, the ghost's).
	_, err = e.Search(context.Background(), Filter{}, 100, nil)
	assert.ErrorContains(t, err, "connection reset", "a file still listed is not skipped")
}

func TestQueriesSkipFilesDeletedWhileRead(t *testing.T) {
	// Opens of the newest file in a search: 1 footer (plan), 2 scan,
	// 3 materialization of its rows. With maxRecords 5 a trace lookup
	// also reads times (fillTimes) before materializing.
	for _, tt := range []struct {
		name   string
		atOpen int
		run    func(e *Engine) (int, Stats, error)
		want   int
	}{
		{"search, deleted before scan", 2, func(e *Engine) (int, Stats, error) {
			return queryKinds["search"](e)
		}, 20},
		{"search, deleted before materialization", 3, func(e *Engine) (int, Stats, error) {
			return queryKinds["search"](e)
		}, 20},
		{"trace, deleted before materialization", 3, func(e *Engine) (int, Stats, error) {
			return queryKinds["trace"](e)
		}, 20},
		{"truncated trace, deleted before reading times", 3, func(e *Engine) (int, Stats, error) {
			res, err := e.Trace(context.Background(), archivetest.TraceID(1), time.Time{}, time.Time{}, 5)
			if err != nil {
				return 0, Stats{}, err
			}
			return len(res.Records), res.Stats, nil
		}, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, layout, keys, _ := retentionArchive(t)
			e, err := New(Options{
				Store:  &retentionStore{Store: archive.NewLocalStore(dir), root: dir, deleteKey: keys[2], deleteAtOpen: tt.atOpen},
				Layout: layout, Allocator: memory.NewGoAllocator(), FooterCacheSize: 10,
			})
			require.NoError(t, err)
			n, st, err := tt.run(e)
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
			assert.Equal(t, 1, st.FilesSkippedMissing)
			_, err = os.Stat(filepath.Join(dir, filepath.FromSlash(keys[2])))
			assert.ErrorIs(t, err, os.ErrNotExist, "the file was deleted during the query")
		})
	}
}
