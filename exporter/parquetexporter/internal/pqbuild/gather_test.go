package pqbuild

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestRowLocator checks row positions over chunks including empty ones,
// for rows in any order.
func TestRowLocator(t *testing.T) {
	lens := []int{0, 3, 0, 0, 2, 4, 0}
	var chunks []arrow.Array
	for _, n := range lens {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for i := 0; i < n; i++ {
			b.Append(int64(i))
		}
		chunks = append(chunks, b.NewArray())
		b.Release()
	}
	col := arrow.NewChunked(arrow.PrimitiveTypes.Int64, chunks)
	defer col.Release()
	for _, c := range chunks {
		c.Release()
	}
	var want []rowPos
	for c, n := range lens {
		for r := 0; r < n; r++ {
			want = append(want, rowPos{chunk: int32(c), row: int32(r)})
		}
	}
	rows := []int64{8, 3, 0, 5, 1, 4, 2, 6, 7, 3, 3, 8, 0}
	got := newRowLocator(col).locate(rows)
	for j, r := range rows {
		if got[j] != want[r] {
			t.Errorf("row %d at %+v, want %+v", r, got[j], want[r])
		}
	}
}
