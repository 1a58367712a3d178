package pqbuild

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// String columns are dictionary-encoded from dictionaries built here.
//
// Handed a dense string column, arrow-go's dictionary encoder hashes every
// value into its memo table, allocating as it goes: on attribute maps
// (5-20 entries per row) that halved the write speed. Handed an Arrow
// dictionary array instead, pqarrow writes the dictionary page once per
// column chunk and copies the indices (writeDictionaryArrow), provided every
// chunk of the column chunk carries the same dictionary. So for each row
// group and each string leaf that may be dictionary-encoded (top-level
// strings such as service_name, attribute map keys and values, also inside
// the events/links lists of spans) one Go map assigns indices, and the leaf
// is handed over as dictionary<int32, utf8>. The Parquet column is the same
// UTF8 byte array column either way, and the file's stored Arrow schema
// stays the dense one (the writer is created with it), so readers see plain
// strings and MAP<string, string>.
//
// Whether a leaf is worth a dictionary is decided per file (worthDictionary)
// before the writer exists, so a leaf written PLAIN has its dictionary
// switched off and arrow-go never hashes it. arrow-go does not apply the
// dictionary page size limit to dictionaries handed to it, so it is applied
// here: a leaf whose dictionary would pass it in any row group is PLAIN.
//
// This file indexes the sorted rows; gather.go does the same for the
// columns it can sort by their indices alone, before the sort.

// leafDict builds the dictionary of one string leaf over one row group (or,
// in gather.go, over a whole file).
type leafDict struct {
	limit   int              // dictionary page size limit (bytes)
	index   map[string]int32 // value → dictionary index
	offsets []int32          // dictionary value offsets into data
	data    []byte           // dictionary values, concatenated
	size    int              // Parquet dictionary page size: Σ 4+len(value)
	over    bool             // size passed limit: the leaf goes PLAIN
	values  int              // non-null values indexed
	chunks  []*memory.Buffer // indices per chunk of the row group
	// recent holds, per position within a map (or list), the value last
	// seen there and its index: map entries mostly come in the same key
	// order, and sorted rows repeat resource values and top-level strings,
	// so most lookups end in one string comparison instead of a hash.
	recent []recentValue
}

type recentValue struct {
	s   string
	idx int32
}

// maxRecentPositions bounds recent; later positions use the map alone.
const maxRecentPositions = 64

func newLeafDict(limit int) *leafDict {
	return &leafDict{limit: limit, index: make(map[string]int32, 64), offsets: []int32{0}}
}

// add indexes the values of one chunk's leaf. offsets, when not nil, are
// the offsets of the list or map holding the leaf (len = lists + 1; the
// first one is the leaf's first value), which give each value's position
// in its list. Null slots get index -1 (see encoded).
func (d *leafDict) add(leaf *array.String, offsets []int32, mem memory.Allocator) {
	if d.over {
		return
	}
	n := leaf.Len()
	buf, idx := newIndexBuffer(n, mem)
	ok := true
	if offsets == nil {
		for i := 0; i < n && ok; i++ {
			ok = d.put(leaf, i, 0, idx)
		}
	} else {
		base := offsets[0]
		for l := 0; l+1 < len(offsets) && ok; l++ {
			start, end := int(offsets[l]-base), int(offsets[l+1]-base)
			for i := start; i < end && ok; i++ {
				ok = d.put(leaf, i, i-start, idx)
			}
		}
	}
	if !ok {
		buf.Release()
		d.goDense()
		return
	}
	d.values += n - leaf.NullN()
	d.chunks = append(d.chunks, buf)
}

// put sets idx[i] to the index of leaf's value i, found at position pos of
// its list. It reports false when the dictionary passes the size limit.
func (d *leafDict) put(leaf *array.String, i, pos int, idx []int32) bool {
	if leaf.IsNull(i) {
		idx[i] = -1
		return true
	}
	// The string aliases the leaf's buffer, which outlives the map and
	// recent: all are dropped when the file is written.
	s := leaf.Value(i)
	if pos < len(d.recent) && d.recent[pos].idx >= 0 && d.recent[pos].s == s {
		idx[i] = d.recent[pos].idx
		return true
	}
	j, ok := d.index[s]
	if !ok {
		d.size += arrow.Uint32SizeBytes + len(s)
		if d.size > d.limit {
			return false
		}
		j = int32(len(d.offsets) - 1)
		d.index[s] = j
		d.data = append(d.data, s...)
		d.offsets = append(d.offsets, int32(len(d.data)))
	}
	idx[i] = j
	if pos >= len(d.recent) && pos < maxRecentPositions {
		for len(d.recent) <= pos {
			d.recent = append(d.recent, recentValue{idx: -1})
		}
	}
	if pos < len(d.recent) {
		d.recent[pos] = recentValue{s: s, idx: j}
	}
	return true
}

// byFrequency renumbers the dictionary most frequent value first. The index
// bit width stays the same, but zstd compresses bit-packed indices whose
// high bits are mostly zero.
func (d *leafDict) byFrequency() {
	n := d.distinct()
	if n < 2 || d.over {
		return
	}
	counts := make([]int32, n)
	for _, b := range d.chunks {
		for _, j := range arrow.Int32Traits.CastFromBytes(b.Bytes()) {
			if j >= 0 {
				counts[j]++
			}
		}
	}
	order := make([]int32, n) // new index → old index
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(counts[b], counts[a]) })
	remap := counts // reuse: old index → new index
	offsets := make([]int32, 1, n+1)
	data := make([]byte, 0, len(d.data))
	for newIdx, old := range order {
		remap[old] = int32(newIdx)
		data = append(data, d.data[d.offsets[old]:d.offsets[old+1]]...)
		offsets = append(offsets, int32(len(data)))
	}
	d.offsets, d.data = offsets, data
	for _, b := range d.chunks {
		idx := arrow.Int32Traits.CastFromBytes(b.Bytes())
		for i, j := range idx {
			if j >= 0 {
				idx[i] = remap[j]
			}
		}
	}
}

// distinct is the number of dictionary entries.
func (d *leafDict) distinct() int { return len(d.offsets) - 1 }

// encoded returns chunk ci's indices as a dictionary array over dict;
// negative indices are the null slots.
func (d *leafDict) encoded(ci int, dict arrow.Array) arrow.Array {
	buf := d.chunks[ci]
	idx := arrow.Int32Traits.CastFromBytes(buf.Bytes())
	var validity *memory.Buffer
	nulls := 0
	for i, j := range idx {
		if j >= 0 {
			continue
		}
		if validity == nil {
			validity = memory.NewResizableBuffer(memory.DefaultAllocator)
			validity.Resize(int(bitutil.BytesForBits(int64(len(idx)))))
			bitutil.SetBitsTo(validity.Bytes(), 0, int64(len(idx)), true)
			defer validity.Release()
		}
		bitutil.ClearBit(validity.Bytes(), i)
		nulls++
	}
	data := array.NewData(arrow.PrimitiveTypes.Int32, len(idx), []*memory.Buffer{validity, buf}, nil, nulls, 0)
	defer data.Release()
	indices := array.MakeFromData(data)
	defer indices.Release()
	return array.NewDictionaryArray(dictLeafType, indices, dict)
}

// goDense gives up on the dictionary for this row group.
func (d *leafDict) goDense() {
	d.over = true
	d.index, d.recent = nil, nil
	d.release()
}

// dictionary returns the dictionary values as a string array.
func (d *leafDict) dictionary() arrow.Array {
	data := array.NewData(arrow.BinaryTypes.String, len(d.offsets)-1, []*memory.Buffer{
		nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.offsets)),
		memory.NewBufferBytes(d.data),
	}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func (d *leafDict) release() {
	for _, b := range d.chunks {
		b.Release()
	}
	d.chunks = nil
}

// dictLeafType is the Arrow type encoded leaves are handed to pqarrow as.
var dictLeafType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// fileDicts holds the string leaf dictionaries of one file: per column,
// per row group, per leaf (visitStringLeaves order).
type fileDicts struct {
	cols map[int]*colDicts
}

type colDicts struct {
	paths  []string      // Parquet paths of the column's string leaves
	rgs    [][]*leafDict // [row group][leaf]; nil for leaves not eligible
	useDic []bool        // per leaf: written with the dictionaries
}

// buildDicts indexes the string leaves of tbl for which eligible(path)
// holds, row group by row group, and decides per leaf whether the file
// uses the dictionaries (worthDictionary). Columns for which skip holds
// are left out (gathered: gather.go).
func buildDicts(tbl arrow.Table, rowGroupRows int64, limit int, eligible func(path string) bool, skip func(col int) bool, mem memory.Allocator) (*fileDicts, error) {
	fd := &fileDicts{cols: map[int]*colDicts{}}
	n := tbl.NumRows()
	for i, f := range tbl.Schema().Fields() {
		if skip(i) {
			continue
		}
		paths := stringLeafPaths(f.Name, f.Type, nil)
		use := make([]bool, len(paths))
		some := false
		for k, p := range paths {
			use[k] = eligible(p)
			some = some || use[k]
		}
		if !some {
			continue
		}
		cd := &colDicts{paths: paths, useDic: use}
		fd.cols[i] = cd
		for off := int64(0); off < n; off += rowGroupRows {
			leaves := make([]*leafDict, len(paths))
			for k := range leaves {
				if use[k] {
					leaves[k] = newLeafDict(limit)
				}
			}
			cd.rgs = append(cd.rgs, leaves)
			sliced := array.NewChunkedSlice(tbl.Column(i).Data(), off, off+min(rowGroupRows, n-off))
			for _, c := range sliced.Chunks() {
				k := 0
				err := visitStringLeaves(c, func(leaf *array.String, offsets []int32) {
					if k < len(leaves) && leaves[k] != nil {
						leaves[k].add(leaf, offsets, mem)
					}
					k++
				})
				if err == nil && k != len(leaves) {
					err = fmt.Errorf("found %d string leaves, schema has %d", k, len(leaves))
				}
				if err != nil {
					sliced.Release()
					fd.release()
					return nil, fmt.Errorf("column %s: %w", f.Name, err)
				}
			}
			sliced.Release()
			for _, d := range leaves {
				if d != nil {
					d.byFrequency()
				}
			}
		}
		for k := range paths {
			cd.useDic[k] = use[k] && worthDictionary(cd.rgs, k)
		}
	}
	return fd, nil
}

// repeatCostBits is what a repeated value is assumed to cost in a
// zstd-compressed PLAIN page (about one short match); see worthDictionary.
const repeatCostBits = 16

// worthDictionary reports whether leaf k is written with its dictionaries.
// Every distinct value costs about the same either way (dictionary page or
// PLAIN page); what differs is that the dictionary adds a bit-packed index
// per value, which zstd barely compresses, while PLAIN pays for each
// repeated value. A leaf mixing low-cardinality values with many unique
// ones (a request id among the attributes) gets wide indices for every
// value and is smaller PLAIN. A dictionary past the page size limit in any
// row group also means PLAIN.
func worthDictionary(rgs [][]*leafDict, k int) bool {
	var indexBits, repeatBits int64
	for _, leaves := range rgs {
		d := leaves[k]
		if d.over {
			return false
		}
		values, distinct := int64(d.values), int64(d.distinct())
		indexBits += values * int64(bits.Len32(uint32(max(distinct-1, 1))))
		repeatBits += (values - distinct) * repeatCostBits
	}
	return indexBits > 0 && indexBits <= repeatBits
}

// plainLeaves returns the paths of the eligible leaves written PLAIN.
func (fd *fileDicts) plainLeaves() []string {
	var out []string
	for _, cd := range fd.cols {
		for k, p := range cd.paths {
			if !cd.useDic[k] && len(cd.rgs) > 0 && cd.rgs[0][k] != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func (fd *fileDicts) release() {
	for _, cd := range fd.cols {
		for _, leaves := range cd.rgs {
			for _, d := range leaves {
				if d != nil {
					d.release()
				}
			}
		}
	}
	fd.cols = nil
}

// stringLeafPaths appends the Parquet paths of the string leaves of a
// column (path, dt), in visitStringLeaves order.
func stringLeafPaths(path string, dt arrow.DataType, out []string) []string {
	switch t := dt.(type) {
	case *arrow.StringType:
		out = append(out, path)
	case *arrow.MapType:
		out = stringLeafPaths(path+".key_value.key", t.KeyType(), out)
		out = stringLeafPaths(path+".key_value.value", t.ItemType(), out)
	case *arrow.ListType:
		out = stringLeafPaths(path+".list.element", t.Elem(), out)
	case *arrow.StructType:
		for _, f := range t.Fields() {
			out = stringLeafPaths(path+"."+f.Name, f.Type, out)
		}
	}
	return out
}

// encodeRowGroup returns rows [off, off+size) of column col (row group rg)
// with the leaves that use dictionaries replaced by dictionary arrays, or
// nil when the column has none. The caller releases the result.
func (cd *colDicts) encodeRowGroup(col *arrow.Chunked, rg int, off, size int64) (*arrow.Chunked, error) {
	if !slices.Contains(cd.useDic, true) {
		return nil, nil
	}
	sliced := array.NewChunkedSlice(col, off, off+size)
	defer sliced.Release()
	leaves := cd.rgs[rg]
	dicts := make([]arrow.Array, len(leaves))
	defer func() {
		for _, a := range dicts {
			if a != nil {
				a.Release()
			}
		}
	}()
	for k, d := range leaves {
		if cd.useDic[k] && d.distinct() > 0 {
			dicts[k] = d.dictionary()
		}
	}
	out := make([]arrow.Array, 0, len(sliced.Chunks()))
	defer func() {
		for _, a := range out {
			a.Release()
		}
	}()
	for ci, c := range sliced.Chunks() {
		k := 0
		rebuilt, err := rebuildStringLeaves(c, func(leaf *array.String) arrow.Array {
			d, dict := leaves[k], dicts[k]
			k++
			if dict == nil {
				leaf.Retain()
				return leaf
			}
			return d.encoded(ci, dict)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, rebuilt)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return arrow.NewChunked(out[0].DataType(), out), nil
}

// visitStringLeaves calls fn, depth first, for every string array in arr,
// each sliced to the values arr references, with the offsets of the
// innermost list or map holding it (nil for a top-level string).
func visitStringLeaves(arr arrow.Array, fn func(leaf *array.String, offsets []int32)) error {
	return visitLeaves(arr, nil, fn)
}

func visitLeaves(arr arrow.Array, offsets []int32, fn func(*array.String, []int32)) error {
	switch a := arr.(type) {
	case *array.String:
		fn(a, offsets)
	case *array.Map:
		entries, err := listValuesRange(a.List)
		if err != nil {
			return err
		}
		defer entries.Release()
		return visitLeaves(entries, listOffsets(a.List), fn)
	case *array.List:
		values, err := listValuesSlice(a)
		if err != nil {
			return err
		}
		defer values.Release()
		return visitLeaves(values, listOffsets(a), fn)
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			if err := visitLeaves(a.Field(i), offsets, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// listOffsets returns the offsets of l's lists (len l.Len()+1).
func listOffsets(l *array.List) []int32 {
	if l.Len() == 0 {
		return []int32{0}
	}
	off := l.Data().Offset()
	return l.Offsets()[off : off+l.Len()+1]
}

// rebuildStringLeaves returns arr rebuilt with every string array replaced
// by leaf(that array), in visitStringLeaves order. Rebuilt levels start at
// offset 0. The caller releases the result.
func rebuildStringLeaves(arr arrow.Array, leaf func(*array.String) arrow.Array) (arrow.Array, error) {
	switch a := arr.(type) {
	case *array.String:
		return leaf(a), nil
	case *array.Map:
		entries, err := listValuesRange(a.List)
		if err != nil {
			return nil, err
		}
		defer entries.Release()
		newEntries, err := rebuildStruct(entries, func(child arrow.Array) (arrow.Array, error) {
			return rebuildStringLeaves(child, leaf)
		})
		if err != nil {
			return nil, err
		}
		defer newEntries.Release()
		st := newEntries.DataType().(*arrow.StructType)
		mt := arrow.MapOfFields(st.Field(0), st.Field(1))
		mt.KeysSorted = a.DataType().(*arrow.MapType).KeysSorted
		return rebuildList(a.List, mt, newEntries), nil
	case *array.List:
		values, err := listValuesSlice(a)
		if err != nil {
			return nil, err
		}
		defer values.Release()
		newValues, err := rebuildStringLeaves(values, leaf)
		if err != nil {
			return nil, err
		}
		defer newValues.Release()
		elem := a.DataType().(*arrow.ListType).ElemField()
		elem.Type = newValues.DataType()
		return rebuildList(a, arrow.ListOfField(elem), newValues), nil
	case *array.Struct:
		return rebuildStruct(a, func(child arrow.Array) (arrow.Array, error) { return rebuildStringLeaves(child, leaf) })
	default:
		arr.Retain()
		return arr, nil
	}
}

// listValuesSlice returns the child values l references.
func listValuesSlice(l *array.List) (arrow.Array, error) {
	if l.Len() == 0 {
		return array.NewSlice(l.ListValues(), 0, 0), nil
	}
	start, _ := l.ValueOffsets(0)
	_, end := l.ValueOffsets(l.Len() - 1)
	if start < 0 || end < start || end > int64(l.ListValues().Len()) {
		return nil, fmt.Errorf("list offsets [%d, %d) outside %d values", start, end, l.ListValues().Len())
	}
	return array.NewSlice(l.ListValues(), start, end), nil
}

// listValuesRange returns the entries struct a map references.
func listValuesRange(l *array.List) (*array.Struct, error) {
	v, err := listValuesSlice(l)
	if err != nil {
		return nil, err
	}
	s, ok := v.(*array.Struct)
	if !ok {
		v.Release()
		return nil, fmt.Errorf("map entries are %s, not a struct", v.DataType())
	}
	return s, nil
}

// rebuildList returns a list (or map) of type dt with l's validity and
// offsets rebased to start at 0 over values (the slice l references).
func rebuildList(l *array.List, dt arrow.DataType, values arrow.Array) arrow.Array {
	n := l.Len()
	offsets := memory.NewResizableBuffer(memory.DefaultAllocator)
	defer offsets.Release()
	offsets.Resize((n + 1) * arrow.Int32SizeBytes)
	o := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	o[0] = 0
	if n > 0 {
		src := l.Offsets()[l.Data().Offset() : l.Data().Offset()+n+1]
		base := src[0]
		for i, v := range src {
			o[i] = v - base
		}
	}
	var validity *memory.Buffer
	if l.NullN() > 0 {
		validity = copyValidity(l)
		defer validity.Release()
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity, offsets}, []arrow.ArrayData{values.Data()}, l.NullN(), 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// rebuildStruct returns s with each child replaced by child(field), at
// offset 0 and with s's validity.
func rebuildStruct(s *array.Struct, child func(arrow.Array) (arrow.Array, error)) (arrow.Array, error) {
	st := s.DataType().(*arrow.StructType)
	fields := make([]arrow.Field, s.NumField())
	children := make([]arrow.ArrayData, s.NumField())
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := 0; i < s.NumField(); i++ {
		c, err := child(s.Field(i))
		if err != nil {
			return nil, err
		}
		fields[i] = st.Field(i)
		fields[i].Type = c.DataType()
		children[i] = c.Data()
		c.Data().Retain()
		c.Release()
	}
	var validity *memory.Buffer
	if s.NullN() > 0 {
		validity = copyValidity(s)
		defer validity.Release()
	}
	data := array.NewData(arrow.StructOf(fields...), s.Len(), []*memory.Buffer{validity}, children, s.NullN(), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// copyValidity returns arr's validity bitmap starting at bit 0.
func copyValidity(arr arrow.Array) *memory.Buffer {
	n := arr.Len()
	buf := memory.NewResizableBuffer(memory.DefaultAllocator)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bitutil.CopyBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, buf.Bytes(), 0)
	return buf
}
