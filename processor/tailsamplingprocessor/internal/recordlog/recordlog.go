// Package recordlog holds the buffered records of the tail sampler in a log
// of fixed-size slabs written front to back, instead of one growing byte
// slice per group. Each record links back to the previous record of its
// group, so a group is found from its last record alone; a slab is released
// as a whole once every group that wrote into it is decided, and recycled.
//
// Groups are decided roughly in the order they started (decision_wait after
// their first record), so slabs free up in the order they were written. Per
// record this costs one copy into the open slab and no allocation; per
// group, no allocation and no slack beyond the unused end of the open slab.
// Released slabs go to a sync.Pool: reused at once under steady load, given
// back to the garbage collector when the load drops.
package recordlog // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/recordlog"

import (
	"encoding/binary"
	"sync"
)

// Ref locates a record: the id of its slab (high 32 bits) and its offset in
// the slab (low 32 bits).
type Ref uint64

// Owner orders the groups that own records: groups get increasing owner
// numbers as they are created, and Release is told the oldest one still
// undecided.
type Owner uint64

// Slab sizes: the ceiling keeps recycling cheap and the release granularity
// fine; records larger than a slab get a slab of their own.
const (
	MinSlabSize = 1 << 10
	MaxSlabSize = 64 << 10
)

// refSize is the size of the back link that starts every record frame.
const refSize = 8

// slab is one block of records.
type slab struct {
	id  uint32
	buf []byte
	// newest is the newest owner of a record in this slab: the slab is
	// dead once every owner up to it is decided.
	newest Owner
}

// Log is an append-only sequence of slabs, oldest first. The last one is
// open for writing. Not safe for concurrent use.
type Log struct {
	slabs    []*slab
	firstID  uint32 // id of slabs[0]; ids wrap around, only differences matter
	nextID   uint32
	slabSize int
	pool     sync.Pool
}

// New returns a log whose slabs hold slabSize bytes (clamped to
// [MinSlabSize, MaxSlabSize]).
func New(slabSize int) *Log {
	return &Log{slabSize: min(max(slabSize, MinSlabSize), MaxSlabSize)}
}

// SlabSize returns the size of a regular slab.
func (l *Log) SlabSize() int { return l.slabSize }

// FrameSize returns the bytes a record of n bytes with the given tag takes
// in a slab.
func FrameSize(tag uint64, n int) int {
	return refSize + uvarintLen(tag) + uvarintLen(uint64(n)) + n
}

// Append stores rec with a caller-defined tag for owner, linked to prev (the
// owner's previous record; ignored for its first one). It returns the
// record's reference, the bytes its frame takes (FrameSize) and the bytes of
// a slab it had to open (0 when the record fit in the open slab).
func (l *Log) Append(owner Owner, prev Ref, tag uint64, rec []byte) (ref Ref, frame int, opened int64) {
	frame = FrameSize(tag, len(rec))
	s := l.open()
	if s == nil || len(s.buf)+frame > cap(s.buf) {
		s = l.openSlab(frame)
		opened = int64(cap(s.buf))
	}
	// The frame is written into room taken at once: one capacity check
	// rather than one per piece.
	off := len(s.buf)
	s.buf = s.buf[:off+frame]
	b := s.buf[off:]
	binary.LittleEndian.PutUint64(b, uint64(prev))
	n := refSize + binary.PutUvarint(b[refSize:], tag)
	n += binary.PutUvarint(b[n:], uint64(len(rec)))
	copy(b[n:], rec)
	s.newest = max(s.newest, owner)
	return Ref(uint64(s.id)<<32 | uint64(off)), frame, opened
}

func (l *Log) open() *slab {
	if len(l.slabs) == 0 {
		return nil
	}
	return l.slabs[len(l.slabs)-1]
}

// openSlab starts a new slab large enough for need bytes: a recycled
// regular one when possible.
func (l *Log) openSlab(need int) *slab {
	var s *slab
	if need <= l.slabSize {
		if p, ok := l.pool.Get().(*slab); ok {
			s = p
		} else {
			s = &slab{buf: make([]byte, 0, l.slabSize)}
		}
	} else {
		s = &slab{buf: make([]byte, 0, need)}
	}
	if len(l.slabs) == 0 {
		l.firstID = l.nextID
	}
	s.id, s.buf, s.newest = l.nextID, s.buf[:0], 0
	l.nextID++
	l.slabs = append(l.slabs, s)
	return s
}

// record decodes the frame at r.
func (l *Log) record(r Ref) (prev Ref, tag uint64, rec []byte) {
	s := l.slabs[uint32(r>>32)-l.firstID]
	b := s.buf[uint32(r):]
	prev = Ref(binary.LittleEndian.Uint64(b))
	b = b[refSize:]
	tag, n := binary.Uvarint(b)
	b = b[n:]
	size, m := binary.Uvarint(b)
	b = b[m:]
	return prev, tag, b[:size:size]
}

// Walk calls fn for the n records of the group whose last record is last,
// in the order they were appended. scratch is working memory, returned for
// reuse. The record bytes are valid until the next Release.
func (l *Log) Walk(last Ref, n int, scratch []Ref, fn func(tag uint64, rec []byte)) []Ref {
	refs := scratch[:0]
	r := last
	for i := 0; i < n; i++ {
		refs = append(refs, r)
		r, _, _ = l.record(r)
	}
	for i := len(refs) - 1; i >= 0; i-- {
		_, tag, rec := l.record(refs[i])
		fn(tag, rec)
	}
	return refs
}

// Release recycles the slabs, oldest first, whose every owner is older than
// oldestLive (the oldest undecided owner), and returns the bytes they held.
// The open slab goes too once dead: the next Append opens another. Record
// bytes obtained from Walk must not be used after Release.
func (l *Log) Release(oldestLive Owner) int64 {
	var freed int64
	for len(l.slabs) > 0 && l.slabs[0].newest < oldestLive {
		s := l.slabs[0]
		l.slabs[0] = nil
		l.slabs = l.slabs[1:]
		l.firstID++
		freed += int64(cap(s.buf))
		if cap(s.buf) == l.slabSize {
			l.pool.Put(s)
		}
	}
	return freed
}

// Held returns the number of slabs held, the open one included.
func (l *Log) Held() int { return len(l.slabs) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
