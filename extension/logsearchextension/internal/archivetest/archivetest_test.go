package archivetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// TestFilesFollowTheArchiveContract reads a written file back and checks it
// against internal/logarchive: path, schema (with promoted columns) and the
// trace_id bloom filter the query engine relies on.
func TestFilesFollowTheArchiveContract(t *testing.T) {
	root := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	promoted := []logarchive.PromotedColumn{{Column: "http_status", Key: "http.status", Source: logarchive.SourceRecord, Type: logarchive.TypeInt}}
	spec := Spec{Records: 300, Start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Span: 2 * time.Hour, Services: []string{"a"}, TraceEvery: 2}
	rows := spec.Rows()
	rows[0].Promoted = map[string]any{"http_status": int64(503)}
	paths, err := WriteArchive(root, layout, rows, 7, Options{Promoted: promoted, RowGroupRows: 64})
	require.NoError(t, err)
	require.Len(t, paths, 2)
	af, err := layout.ParseFilePath(paths[0])
	require.NoError(t, err)
	assert.Equal(t, "a", af.Partition.Service)
	assert.Equal(t, uint64(7), af.Seq)

	rdr, err := file.OpenParquetFile(filepath.Join(root, paths[0]), false)
	require.NoError(t, err)
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	require.NoError(t, err)
	sc, err := fr.Schema()
	require.NoError(t, err)
	want, err := logarchive.LogSchema(promoted)
	require.NoError(t, err)
	require.Equal(t, want.NumFields(), sc.NumFields())
	for i, f := range want.Fields() {
		g := sc.Field(i)
		assert.Equal(t, f.Name, g.Name)
		assert.True(t, arrow.TypeEqual(f.Type, g.Type), "column %s: %s, want %s", f.Name, g.Type, f.Type)
		assert.Equal(t, f.Nullable, g.Nullable, f.Name)
	}
	got, err := logarchive.PromotedFromSchema(sc)
	require.NoError(t, err)
	assert.Equal(t, promoted, got)
	assert.Equal(t, 3, rdr.NumRowGroups(), "150 rows in row groups of 64")
	col := rdr.MetaData().Schema.ColumnIndexByName(logarchive.ColTraceID)
	bfr, err := rdr.GetBloomFilterReader().RowGroup(0)
	require.NoError(t, err)
	bf, err := bfr.GetColumnBloomFilter(col)
	require.NoError(t, err)
	assert.NotNil(t, bf)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	assert.EqualValues(t, 150, tbl.NumRows())

	entries, err := os.ReadDir(filepath.Dir(filepath.Join(root, paths[0])))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary left behind")
}
