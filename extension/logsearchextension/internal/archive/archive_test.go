package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
