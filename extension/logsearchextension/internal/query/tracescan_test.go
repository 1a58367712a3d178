package query

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// TestPlainTracePageScan checks the in-place page scan against rows with
// null trace ids in between (so definition levels matter) and page
// boundaries (small data pages of many rows).
func TestPlainTracePageScan(t *testing.T) {
	dir := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	spec := archivetest.Spec{Records: 20000, Start: t0, Span: 30 * time.Minute, Services: []string{"a"}, TraceEvery: 2}
	rows := spec.Rows()
	var want []int64
	target := archivetest.TraceID(4321)
	for i := range rows {
		switch {
		case i%3 == 1 || i%7 == 0:
			rows[i].TraceID = [16]byte{} // null
		case rows[i].TraceID == target:
			want = append(want, int64(i))
		}
	}
	require.NotEmpty(t, want)
	paths, err := archivetest.WriteArchive(dir, layout, rows, 1, archivetest.Options{})
	require.NoError(t, err)
	require.Len(t, paths, 1)
	rdr, err := file.OpenParquetFile(filepath.Join(dir, paths[0]), false)
	require.NoError(t, err)
	defer rdr.Close()
	col := rdr.MetaData().Schema.ColumnIndexByName(logarchive.ColTraceID)
	var got []int64
	var st Stats
	done, err := scanPlainTracePages(context.Background(), rdr.RowGroup(0), col, 1, target, &st, func(r int64) { got = append(got, r) })
	require.NoError(t, err)
	require.True(t, done, "PLAIN V1 pages are scanned in place")
	assert.Equal(t, want, got)
	assert.EqualValues(t, 20000, st.RowsScanned)
}

func TestLevelOfValue(t *testing.T) {
	// RLE run: 3 nulls; bit-packed group: 1,0,1,1,0,0,0,1; RLE run: 4 defined.
	defs := []byte{3 << 1, 0, 1<<1 | 1, 0b10001101, 4 << 1, 1}
	for n, want := range []int{3, 5, 6, 10, 11, 12, 13, 14} {
		got, err := levelOfValue(defs, 15, n)
		require.NoError(t, err)
		assert.Equal(t, want, got, "value %d", n)
	}
	_, err := levelOfValue(defs, 15, 8)
	assert.EqualError(t, err, "trace_id page: value 8 beyond its 15 levels")
	_, err = levelOfValue([]byte{0x80}, 4, 0)
	assert.Error(t, err)
}

// FuzzLevelOfValue feeds arbitrary definition-level bytes to the decoder:
// it must return an error or a level within range, never panic.
func FuzzLevelOfValue(f *testing.F) {
	f.Add([]byte{3 << 1, 0, 1<<1 | 1, 0b10001101, 4 << 1, 1}, 15, 4)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 100, 0)
	f.Add([]byte{}, 1, 0)
	f.Fuzz(func(t *testing.T, defs []byte, levels, n int) {
		if levels < 0 || levels > 1<<20 || n < 0 {
			return
		}
		level, err := levelOfValue(defs, levels, n)
		if err == nil && (level < 0 || level >= levels) {
			t.Fatalf("level %d outside %d levels", level, levels)
		}
	})
}
