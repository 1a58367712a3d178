package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

func touch(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
}

func TestCatalogSelect(t *testing.T) {
	root := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	files := []string{
		"logs/service=a/dt=2026-03-01/hour=10/w-00000000000000000001.parquet",
		"logs/service=a/dt=2026-03-01/hour=11/w-00000000000000000002.parquet",
		"logs/service=b%2Fc/dt=2026-03-01/hour=10/w-00000000000000000003.parquet",
		"logs/service=a/dt=2026-03-01/hour=10/.w-00000000000000000004.parquet.tmp", // in progress
		"logs/service=a/dt=2026-03-01/hour=10/notes.txt",                           // foreign
		"traces/service=a/dt=2026-03-01/hour=10/w-00000000000000000005.parquet",    // other signal
		"logs/.staging/x/w-00000000000000000006.parquet",                           // hidden dir
	}
	for _, f := range files {
		touch(t, root, f)
	}
	c := &Catalog{Store: NewLocalStore(root), Layout: layout, Signal: logarchive.SignalLogs}
	ctx := context.Background()
	keys := func(r ListResult) []string {
		var out []string
		for _, f := range r.Files {
			out = append(out, f.Key)
		}
		return out
	}

	all, err := c.Select(ctx, Selection{})
	require.NoError(t, err)
	assert.Equal(t, []string{files[0], files[1], files[2]}, keys(all))
	assert.Zero(t, all.Skipped)
	assert.Equal(t, "b/c", all.Files[2].Partition.Service)

	h10 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r, err := c.Select(ctx, Selection{From: h10.Add(30 * time.Minute), To: h10.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, []string{files[0], files[2]}, keys(r))
	assert.Equal(t, 1, r.Skipped)

	r, err = c.Select(ctx, Selection{Service: "b/c", HasService: true})
	require.NoError(t, err)
	assert.Equal(t, []string{files[2]}, keys(r))

	assert.Equal(t, "logs/service=b%2Fc/", c.listPrefix(Selection{Service: "b/c", HasService: true}))
	assert.Equal(t, "logs/", c.listPrefix(Selection{}))
}

// A service.name too long for one path segment is stored under a bounded
// segment (prefix and digest); a query naming the full value finds it, and
// also a directory an older writer made with the full escaped value.
func TestCatalogSelectLongServiceName(t *testing.T) {
	root := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	h10 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	longA := strings.Repeat("s", 300) + "a"
	longB := strings.Repeat("s", 300) + "b"
	oldLong := strings.Repeat("o", 200) // fits a local segment, written before the bound
	files := []string{
		layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, longA, h10), Writer: "w", Seq: 1}),
		layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, longB, h10), Writer: "w", Seq: 2}),
		"logs/service=" + oldLong + "/dt=2026-03-01/hour=10/w-00000000000000000003.parquet",
		layout.FilePath(logarchive.ArchiveFile{Partition: layout.PartitionFor(logarchive.SignalLogs, oldLong, h10), Writer: "w", Seq: 4}),
	}
	for _, f := range files {
		touch(t, root, f)
	}
	c := &Catalog{Store: NewLocalStore(root), Layout: layout, Signal: logarchive.SignalLogs}
	ctx := context.Background()
	for _, tc := range []struct {
		service string
		want    []string
	}{
		{longA, []string{files[0]}},
		{longB, []string{files[1]}},
		{oldLong, []string{files[3], files[2]}}, // sorted: '%' < 'o'
		{strings.Repeat("s", 300), nil},
	} {
		// Without a range the listing stops above the service level; with
		// one it walks the service directories.
		for _, sel := range []Selection{{}, {From: h10, To: h10.Add(time.Hour)}} {
			sel.Service, sel.HasService = tc.service, true
			r, err := c.Select(ctx, sel)
			require.NoError(t, err)
			var got []string
			for _, f := range r.Files {
				got = append(got, f.Key)
			}
			sort.Strings(got)
			assert.Equal(t, tc.want, got, "service of %d bytes, range %v", len(tc.service), !sel.From.IsZero())
		}
	}
}

func TestLocalStoreMissingRoot(t *testing.T) {
	objs, err := NewLocalStore(filepath.Join(t.TempDir(), "none")).List(context.Background(), "logs/")
	require.NoError(t, err)
	assert.Empty(t, objs)
}

func TestFooterCacheRejectsGarbage(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "logs/x.parquet")
	c := NewFooterCache(2)
	_, _, err := c.Open(context.Background(), NewLocalStore(root), Object{Key: "logs/x.parquet", Size: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read parquet footer of logs/x.parquet")
	assert.Zero(t, c.Len())
}

// notFoundS3 answers every GetObject like a bucket whose object was deleted.
type notFoundS3 struct {
	S3API
	err error
}

func (c notFoundS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, c.err
}

func TestS3MissingObjectIsNotExist(t *testing.T) {
	bare404 := &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusNotFound}}, Err: errors.New("not found"),
	}}
	for name, err := range map[string]error{"NoSuchKey": &types.NoSuchKey{}, "404": bare404} {
		ra, oerr := NewS3Store(notFoundS3{err: err}, "b", "p").Open(context.Background(), Object{Key: "logs/x.parquet", Size: 100})
		require.NoError(t, oerr)
		_, rerr := ra.ReadAt(make([]byte, 8), 92)
		assert.ErrorIs(t, rerr, fs.ErrNotExist, name)
		assert.ErrorIs(t, rerr, err, name)
	}
	ra, _ := NewS3Store(notFoundS3{err: errors.New("503 slow down")}, "b", "p").Open(context.Background(), Object{Key: "k", Size: 100})
	_, rerr := ra.ReadAt(make([]byte, 8), 92)
	assert.NotErrorIs(t, rerr, fs.ErrNotExist)
}

// A footer put again (two readers of one file parsed it at once) replaces
// its entry and evicts nothing else.
func TestFooterCachePutAgainKeepsOtherEntries(t *testing.T) {
	c := NewFooterCache(2)
	a, b := Object{Key: "a", Size: 1}, Object{Key: "b", Size: 1}
	c.put(a, &FileInfo{})
	c.put(b, &FileInfo{})
	for range 20 {
		c.put(a, &FileInfo{})
	}
	assert.Equal(t, 2, c.Len())
	assert.Contains(t, c.entries, b)
}

// Queries read footers concurrently through one cache, smaller than the
// files they read (run with -race).
func TestFooterCacheConcurrentOpens(t *testing.T) {
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	spec := archivetest.Spec{Records: 60, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 3 * time.Hour, Services: []string{"a"}}
	root := t.TempDir()
	keys, err := archivetest.WriteArchive(root, layout, spec.Rows(), 1, archivetest.Options{RowGroupRows: 7})
	require.NoError(t, err)
	require.Len(t, keys, 3)
	store := NewLocalStore(root)
	objs, err := store.List(context.Background(), "")
	require.NoError(t, err)
	c := NewFooterCache(2)
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(objs))
	for range 8 {
		wg.Go(func() {
			for _, obj := range objs {
				rdr, fi, err := c.Open(context.Background(), store, obj)
				if err != nil {
					errs <- err
					continue
				}
				if n := fi.Meta.NumRows; n != 20 {
					errs <- fmt.Errorf("%s: %d rows, want 20", obj.Key, n)
				}
				rdr.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 2, c.Len())
}
