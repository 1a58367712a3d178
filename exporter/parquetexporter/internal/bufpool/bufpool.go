// Package bufpool is an Arrow memory allocator that recycles freed buffers
// instead of leaving them to the garbage collector. The exporter allocates
// and frees the same buffer sizes for every batch (builders, journal
// read-back, sorting); recycling them cuts the allocation rate, which is
// what drives the GC's marking work on a collector's large pointer heap.
//
// It is only for buffers whose lifetime the caller controls exactly:
// nothing may touch a buffer after the last Release of its array.
package bufpool

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Buffers from 2^minShift to 2^maxShift bytes are recycled in power-of-two
// size classes; smaller and larger ones come from the Go allocator.
const (
	minShift = 12 // 4 KiB: below this the Go allocator is as cheap
	maxShift = 26 // 64 MiB: larger buffers are rare, keep them short-lived
)

// Allocator recycles buffers per size class. The zero value is ready to
// use. Safe for concurrent use.
type Allocator struct {
	classes  [maxShift - minShift + 1]sync.Pool
	fallback memory.GoAllocator
}

// New returns an empty Allocator.
func New() *Allocator { return &Allocator{} }

var _ memory.Allocator = (*Allocator)(nil)

// class returns the size class holding size bytes, or -1 outside the
// recycled range.
func class(size int) int {
	if size <= 0 || size > 1<<maxShift {
		return -1
	}
	shift := bits.Len(uint(size - 1))
	if shift < minShift {
		return -1
	}
	return shift - minShift
}

// Allocate returns size zeroed bytes, 64-byte aligned like Arrow's own
// allocator (class buffers are powers of two ≥ 4 KiB, which Go aligns to
// at least their size up to a page and to a page above).
func (a *Allocator) Allocate(size int) []byte {
	c := class(size)
	if c < 0 {
		return a.fallback.Allocate(size)
	}
	if p, ok := a.classes[c].Get().(*[]byte); ok {
		b := (*p)[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<(c+minShift))
}

// Reallocate grows or shrinks b to size bytes, keeping its contents.
func (a *Allocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		if size > len(b) {
			clear(b[len(b):size]) // may hold bytes from before a shrink
		}
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free recycles b if it is a class buffer; others are left to the GC.
func (a *Allocator) Free(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	k := class(c)
	if k < 0 || 1<<(k+minShift) != c {
		return
	}
	full := b[:c]
	a.classes[k].Put(&full)
}
