package query

import (
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

// openCounter records which files a query opened (and so read the footer
// of: the footer cache is off).
type openCounter struct {
	archive.Store
	mu     sync.Mutex
	opened map[string]bool
}

func (s *openCounter) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	s.mu.Lock()
	s.opened[obj.Key] = true
	s.mu.Unlock()
	return s.Store.Open(ctx, obj)
}

func (s *openCounter) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.opened)
	s.opened = map[string]bool{}
	return n
}

// A newest-first search reads the footers of the files whose partitions
// can still hold one of the newest records, not of every file in range,
// and returns exactly the records and pages of a full scan.
func TestSearchReadsFootersOnlyWhileTheyCanMatter(t *testing.T) {
	const hours = 24
	spec := archivetest.Spec{
		Records: 2400, Start: t0, Span: hours * time.Hour,
		Services: []string{"checkout", "payments", "frontend"}, TraceEvery: 3,
		Keyword: "DECLINED", KeywordEvery: 97,
	}
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	rows := spec.Rows()
	// Two writers: every partition holds two files ending at the same time.
	var even, odd []archivetest.Row
	for i, r := range rows {
		if i%2 == 0 {
			even = append(even, r)
		} else {
			odd = append(odd, r)
		}
	}
	dir := t.TempDir()
	n1, err := archivetest.WriteArchive(dir, layout, even, 1, archivetest.Options{RowGroupRows: 25})
	require.NoError(t, err)
	n2, err := archivetest.WriteArchive(dir, layout, odd, 1000, archivetest.Options{RowGroupRows: 25, Writer: "w2"})
	require.NoError(t, err)
	files := len(n1) + len(n2)
	store := &openCounter{Store: archive.NewLocalStore(dir), opened: map[string]bool{}}
	e, err := New(Options{Store: store, Layout: layout, Allocator: memory.NewGoAllocator(), BatchSize: 64})
	require.NoError(t, err)
	ctx := context.Background()

	for _, tc := range []struct {
		name     string
		filter   Filter
		keep     func(archivetest.Row) bool
		maxFiles int // footers read for the first page of 20
	}{
		// The newest 20 records lie in the newest hour: its 3 services × 2 files.
		{"all", Filter{}, func(archivetest.Row) bool { return true }, 6},
		{"service", Filter{Service: "payments", HasService: true}, func(r archivetest.Row) bool { return r.Service == "payments" }, 4},
		{"range", Filter{From: t0.Add(5 * time.Hour), To: t0.Add(30 * time.Hour)}, func(r archivetest.Row) bool {
			return !r.Time.Before(t0.Add(5*time.Hour)) && r.Time.Before(t0.Add(30*time.Hour))
		}, 6},
		// 1 in 97 records: the newest 20 matches span about 20 hours.
		{"keyword", Filter{Keyword: "declined"}, func(r archivetest.Row) bool { return strings.Contains(r.Body, "DECLINED") }, 6 * 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := expected(rows, tc.keep)
			store.take()
			res, err := e.Search(ctx, tc.filter, 20, nil)
			require.NoError(t, err)
			opened := store.take()
			t.Logf("first page: footers of %d of %d files read, %d files skipped by the limit", opened, files, res.Stats.FilesSkippedLimit)
			assert.LessOrEqual(t, opened, tc.maxFiles)
			assert.Equal(t, rowBodies(want[:20]), bodies(res.Records))
			require.NotNil(t, res.Next)
			if tc.name == "all" {
				assert.Equal(t, files-opened, res.Stats.FilesSkippedLimit)
			}

			// Paging through everything returns every record once, in order.
			var got []string
			var cur *Cursor
			for page := 0; page < 1000; page++ {
				res, err := e.Search(ctx, tc.filter, 251, cur)
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
		})
	}
}
