package rowenc

import (
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// sizeHints remembers, for every node of a schema's builder tree, how many
// values and data bytes the last finished batch held per parent value, so
// the next batch reserves its buffers once instead of growing them by
// doubling (each doubling copies and leaves the old buffer to the GC).
// Nodes are numbered depth-first; map nodes have two children, keys then
// items. Safe for concurrent use: a stale hint only costs a regrowth.
type sizeHints struct {
	nodes []nodeHint
}

// Caps on what one builder reserves from a hint: a batch with a few huge
// values must not make the next one reserve gigabytes. Beyond them buffers
// simply grow as usual.
const (
	maxReserveValues = 1 << 20
	maxReserveBytes  = 16 << 20
)

type nodeHint struct {
	valuesPer1k atomic.Int64 // values per 1024 parent values (top level: per row)
	bytesPer1k  atomic.Int64 // string data bytes per 1024 values
}

func newSizeHints(schema *arrow.Schema) *sizeHints {
	n := 0
	for _, f := range schema.Fields() {
		n += countNodes(f.Type)
	}
	return &sizeHints{nodes: make([]nodeHint, n)}
}

func countNodes(dt arrow.DataType) int {
	switch t := dt.(type) {
	case *arrow.MapType:
		return 1 + countNodes(t.KeyType()) + countNodes(t.ItemType())
	case *arrow.ListType:
		return 1 + countNodes(t.Elem())
	case *arrow.StructType:
		n := 1
		for _, f := range t.Fields() {
			n += countNodes(f.Type)
		}
		return n
	default:
		return 1
	}
}

// learn records the shape of a finished batch.
func (h *sizeHints) learn(rec arrow.RecordBatch) {
	if rec.NumRows() == 0 {
		return
	}
	idx := 0
	for _, col := range rec.Columns() {
		h.learnArray(col, int(rec.NumRows()), &idx)
	}
}

func (h *sizeHints) learnArray(arr arrow.Array, parentLen int, idx *int) {
	if *idx >= len(h.nodes) {
		return
	}
	nh := &h.nodes[*idx]
	*idx++
	n := arr.Len()
	if parentLen > 0 {
		nh.valuesPer1k.Store(int64(n) * 1024 / int64(parentLen))
	}
	switch a := arr.(type) {
	case *array.String:
		if n > 0 {
			nh.bytesPer1k.Store(int64(len(a.ValueBytes())) * 1024 / int64(n))
		}
	case *array.Map:
		h.learnArray(a.Keys(), n, idx)
		h.learnArray(a.Items(), n, idx)
	case *array.List:
		h.learnArray(a.ListValues(), n, idx)
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			h.learnArray(a.Field(i), n, idx)
		}
	}
}

// reserve sizes the builders of a new batch for about rows rows.
func (h *sizeHints) reserve(rb *array.RecordBuilder, rows int) {
	if rows <= 0 {
		return
	}
	idx := 0
	for _, b := range rb.Fields() {
		h.reserveBuilder(b, rows, true, &idx)
	}
}

func (h *sizeHints) reserveBuilder(b array.Builder, parentLen int, top bool, idx *int) {
	if *idx >= len(h.nodes) {
		return
	}
	nh := &h.nodes[*idx]
	*idx++
	n := parentLen
	if !top {
		n = h.childCount(*idx-1, parentLen)
	}
	switch bb := b.(type) {
	case *array.StringBuilder:
		bb.Reserve(n)
		if per := nh.bytesPer1k.Load(); per > 0 {
			bb.ReserveData(int(min(int64(n)*per/1024, maxReserveBytes)))
		}
	case *array.MapBuilder:
		bb.Reserve(n)
		// Reserve the entries before their key and item columns: the map
		// builder tops the entries' struct up to the key count on Append.
		keys := h.childCount(*idx, n)
		bb.ValueBuilder().(*array.StructBuilder).Reserve(keys)
		h.reserveBuilder(bb.KeyBuilder(), n, false, idx)
		h.reserveBuilder(bb.ItemBuilder(), n, false, idx)
	case *array.ListBuilder:
		bb.Reserve(n)
		h.reserveBuilder(bb.ValueBuilder(), n, false, idx)
	case *array.StructBuilder:
		bb.Reserve(n)
		for i := 0; i < bb.NumField(); i++ {
			h.reserveBuilder(bb.FieldBuilder(i), n, false, idx)
		}
	default:
		b.Reserve(n)
	}
}

// childCount is the expected value count of node idx under parentLen parents.
func (h *sizeHints) childCount(idx, parentLen int) int {
	if idx >= len(h.nodes) {
		return 0
	}
	return int(min(int64(parentLen)*h.nodes[idx].valuesPer1k.Load()/1024, maxReserveValues))
}
