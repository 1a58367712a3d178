package pqbuild

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Sorting by gathering dictionary indices.
//
// Sorting a file takes every column into the new row order, which for a
// string column copies every byte, and the attribute maps are most of a
// log row's bytes. A top-level string column or MAP<string, string> column
// whose leaves all get dictionaries is instead indexed before the sort, on
// the unsorted chunks (one dictionary per leaf for the whole file), and
// only its int32 indices are gathered into the sorted order, row group by
// row group. Each row group then gets a dictionary of just the values it
// uses, most frequent first, as stringdict.go builds them. Columns that do
// not qualify (a leaf over the page size limit or not worth a dictionary,
// nested maps of spans) are sorted by Take and encoded by stringdict.go.

// gatheredCol is one column sorted by gathering.
type gatheredCol struct {
	rgs    [][]*leafDict    // [row group][leaf]: row group dictionary, chunks[0] its indices
	arrays []*arrow.Chunked // [row group]: the column as written
}

func (g *gatheredCol) release() {
	for _, leaves := range g.rgs {
		for _, d := range leaves {
			d.release()
		}
	}
	for _, a := range g.arrays {
		if a != nil {
			a.Release()
		}
	}
	g.rgs, g.arrays = nil, nil
}

// gatherLeafPaths returns the leaf paths of a column that can be sorted by
// gathering: a string column, or a map with string keys and items.
func gatherLeafPaths(f arrow.Field) []string {
	switch t := f.Type.(type) {
	case *arrow.StringType:
		return []string{f.Name}
	case *arrow.MapType:
		if t.KeyType().ID() == arrow.STRING && t.ItemType().ID() == arrow.STRING {
			return stringLeafPaths(f.Name, t, nil)
		}
	}
	return nil
}

// rowLocator maps global row numbers of a table to (chunk, row in chunk).
type rowLocator struct {
	starts []int64 // first global row of each chunk, then the row count
}

func newRowLocator(col *arrow.Chunked) rowLocator {
	starts := make([]int64, 0, len(col.Chunks())+1)
	var n int64
	for _, c := range col.Chunks() {
		starts = append(starts, n)
		n += int64(c.Len())
	}
	return rowLocator{starts: append(starts, n)}
}

// rowPos is a row's chunk and row in that chunk.
type rowPos struct{ chunk, row int32 }

// locate returns the positions of the global rows. Sorted rows often stay
// in one chunk, so the previous row's chunk is tried first.
func (l rowLocator) locate(rows []int64) []rowPos {
	out := make([]rowPos, len(rows))
	c := 0
	for j, r := range rows {
		if r < l.starts[c] || r >= l.starts[c+1] {
			// The last chunk starting at or before r: empty chunks share
			// their start with the next one.
			c = sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > r }) - 1
		}
		out[j] = rowPos{chunk: int32(c), row: int32(r - l.starts[c])}
	}
	return out
}

// gathering is the outcome of gatherColumns.
type gathering struct {
	cols map[int]*gatheredCol // sorted by gathering, by column index
	// plain lists leaves found not worth a dictionary over the whole file
	// (worthDictionary): they are written PLAIN without being indexed
	// again after the sort.
	plain []string
}

func (g *gathering) release() {
	for _, c := range g.cols {
		c.release()
	}
}

// gatherColumns sorts the qualifying columns of tbl into order by
// gathering. The caller releases the result.
func gatherColumns(tbl arrow.Table, order []int64, rowGroupRows int64, limit int, eligible func(string) bool, mem memory.Allocator) (*gathering, error) {
	out := &gathering{cols: map[int]*gatheredCol{}}
	for i, f := range tbl.Schema().Fields() {
		paths := gatherLeafPaths(f)
		if len(paths) == 0 || !allEligible(paths, eligible) {
			continue
		}
		g, plain, err := gatherColumn(tbl.Column(i).Data(), order, len(paths), rowGroupRows, limit, mem)
		if err != nil {
			out.release()
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		if g != nil {
			out.cols[i] = g
		}
		for _, k := range plain {
			out.plain = append(out.plain, paths[k])
		}
	}
	return out, nil
}

func allEligible(paths []string, eligible func(string) bool) bool {
	for _, p := range paths {
		if !eligible(p) {
			return false
		}
	}
	return true
}

// gatherColumn indexes col's leaves (nLeaves: 1 for a string column, 2 for
// a map) over the whole file and gathers them into order. It returns nil
// when a leaf is not worth a dictionary, listed in plain, or passes the
// page size limit (a row group may still fit: stringdict.go tries).
func gatherColumn(col *arrow.Chunked, order []int64, nLeaves int, rowGroupRows int64, limit int, mem memory.Allocator) (*gatheredCol, []int, error) {
	file := make([]*leafDict, nLeaves)
	for k := range file {
		file[k] = newLeafDict(limit)
	}
	defer func() {
		for _, d := range file {
			d.release()
		}
	}()
	var lists [][]int32 // per chunk: map offsets (nil for a string column)
	for _, c := range col.Chunks() {
		k := 0
		err := visitStringLeaves(c, func(leaf *array.String, offsets []int32) {
			if k < nLeaves {
				file[k].add(leaf, offsets, mem)
			}
			k++
		})
		if err == nil && k != nLeaves {
			err = fmt.Errorf("found %d string leaves, want %d", k, nLeaves)
		}
		if err != nil {
			return nil, nil, err
		}
		if m, ok := c.(*array.Map); ok {
			lists = append(lists, listOffsets(m.List))
		}
	}
	var plain []int
	for k, d := range file {
		if !d.over && !worthDictionary([][]*leafDict{file}, k) {
			plain = append(plain, k)
		}
	}
	if len(plain) > 0 || slices.ContainsFunc(file, func(d *leafDict) bool { return d.over }) {
		return nil, plain, nil
	}

	g := &gatheredCol{}
	loc := newRowLocator(col)
	n := int64(len(order))
	for off := int64(0); off < n; off += rowGroupRows {
		rows := loc.locate(order[off:min(off+rowGroupRows, n)])
		var (
			arr    arrow.Array
			leaves []*leafDict
			err    error
		)
		if lists == nil {
			leaves = []*leafDict{file[0].gatherRows(rows, mem)}
			arr = leaves[0].leafArray(len(rows))
		} else {
			leaves, arr, err = gatherMap(col, file, lists, rows, mem)
			if err != nil {
				g.release()
				return nil, nil, err
			}
		}
		g.rgs = append(g.rgs, leaves)
		g.arrays = append(g.arrays, arrow.NewChunked(arr.DataType(), []arrow.Array{arr}))
		arr.Release()
	}
	return g, nil, nil
}

// chunkIndices returns the indices d holds per chunk.
func (d *leafDict) chunkIndices() [][]int32 {
	out := make([][]int32, len(d.chunks))
	for c, b := range d.chunks {
		out[c] = arrow.Int32Traits.CastFromBytes(b.Bytes())
	}
	return out
}

// newIndexBuffer returns a buffer of n int32 indices from mem.
func newIndexBuffer(n int, mem memory.Allocator) (*memory.Buffer, []int32) {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * arrow.Int32SizeBytes)
	return buf, arrow.Int32Traits.CastFromBytes(buf.Bytes())
}

// gatherRows returns a row group dictionary for the top-level string
// column d indexed, with its indices in the order of rows.
func (d *leafDict) gatherRows(rows []rowPos, mem memory.Allocator) *leafDict {
	buf, idx := newIndexBuffer(len(rows), mem)
	chunks := d.chunkIndices()
	for j, p := range rows {
		idx[j] = chunks[p.chunk][p.row]
	}
	return d.compact(buf)
}

// gatherMap gathers the rows of a map column: offsets, validity and the
// key and item indices, then compacts each leaf's dictionary.
func gatherMap(col *arrow.Chunked, file []*leafDict, lists [][]int32, rows []rowPos, mem memory.Allocator) ([]*leafDict, arrow.Array, error) {
	mt := col.DataType().(*arrow.MapType)
	offsets := memory.NewResizableBuffer(memory.DefaultAllocator)
	defer offsets.Release()
	offsets.Resize((len(rows) + 1) * arrow.Int32SizeBytes)
	o := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	hasNulls := col.NullN() > 0
	var validity *memory.Buffer
	if hasNulls {
		validity = memory.NewResizableBuffer(memory.DefaultAllocator)
		defer validity.Release()
		validity.Resize(int(bitutil.BytesForBits(int64(len(rows)))))
	}
	total, nulls := int32(0), 0
	for j, p := range rows {
		o[j] = total
		total += lists[p.chunk][p.row+1] - lists[p.chunk][p.row]
		if hasNulls {
			valid := col.Chunk(int(p.chunk)).IsValid(int(p.row))
			bitutil.SetBitTo(validity.Bytes(), j, valid)
			if !valid {
				nulls++
			}
		}
	}
	o[len(rows)] = total

	leaves := make([]*leafDict, len(file))
	children := make([]arrow.ArrayData, len(file))
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	fields := []arrow.Field{mt.KeyField(), mt.ItemField()}
	for k, d := range file {
		buf, idx := newIndexBuffer(int(total), mem)
		chunks := d.chunkIndices()
		for j, p := range rows {
			list, base := lists[p.chunk], lists[p.chunk][0]
			copy(idx[o[j]:o[j+1]], chunks[p.chunk][list[p.row]-base:list[p.row+1]-base])
		}
		leaves[k] = d.compact(buf)
		a := leaves[k].leafArray(int(total))
		children[k] = a.Data()
		a.Data().Retain()
		fields[k].Type = a.DataType()
		a.Release()
	}
	entryType := arrow.StructOf(fields...)
	entries := array.NewData(entryType, int(total), []*memory.Buffer{nil}, children, 0, 0)
	defer entries.Release()
	newType := arrow.MapOfFields(fields[0], fields[1])
	newType.KeysSorted = mt.KeysSorted
	data := array.NewData(newType, len(rows), []*memory.Buffer{validity, offsets}, []arrow.ArrayData{entries}, nulls, 0)
	defer data.Release()
	return leaves, array.MakeFromData(data), nil
}

// compact returns the row group dictionary for the file dictionary d's
// indices in buf (taken over): only the values used, most frequent first,
// with buf renumbered to it.
func (d *leafDict) compact(buf *memory.Buffer) *leafDict {
	idx := arrow.Int32Traits.CastFromBytes(buf.Bytes())
	counts := make([]int32, d.distinct())
	values := 0
	for _, j := range idx {
		if j >= 0 {
			counts[j]++
			values++
		}
	}
	used := make([]int32, 0, len(counts)) // row group index → file index
	for j, c := range counts {
		if c > 0 {
			used = append(used, int32(j))
		}
	}
	slices.SortStableFunc(used, func(a, b int32) int { return cmp.Compare(counts[b], counts[a]) })
	rg := &leafDict{limit: d.limit, offsets: make([]int32, 1, len(used)+1), values: values, chunks: []*memory.Buffer{buf}}
	remap := counts // reuse: file index → row group index
	for newIdx, old := range used {
		remap[old] = int32(newIdx)
		v := d.data[d.offsets[old]:d.offsets[old+1]]
		rg.data = append(rg.data, v...)
		rg.offsets = append(rg.offsets, int32(len(rg.data)))
		rg.size += arrow.Uint32SizeBytes + len(v)
	}
	for i, j := range idx {
		if j >= 0 {
			idx[i] = remap[j]
		}
	}
	return rg
}

// leafArray returns the row group's leaf of n values: dictionary-encoded,
// or all nulls when the row group has no value (no dictionary page then).
func (d *leafDict) leafArray(n int) arrow.Array {
	if d.distinct() == 0 {
		return array.MakeArrayOfNull(memory.DefaultAllocator, arrow.BinaryTypes.String, n)
	}
	dict := d.dictionary()
	defer dict.Release()
	return d.encoded(0, dict)
}
