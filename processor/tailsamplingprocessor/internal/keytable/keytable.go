// Package keytable is a hash table from 16-byte keys (trace ids, correlation
// keys) to pointers, for the tail sampler's table of undecided groups.
//
// It is looked up once per buffered record. Go's map spreads a large table
// over a directory, control words and slot groups, several cache lines per
// lookup; here a lookup usually reads one 32-byte slot. Open addressing
// with linear probing, deletion by backward shift (no tombstones: groups
// are created and deleted all the time), hashes seeded per table with
// random secrets (trace ids come from clients, who must not be able to
// choose colliding ones).
package keytable // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keytable"

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"math/rand/v2"
)

// Key is a trace id or another 16-byte group key.
type Key = [16]byte

const (
	minSlots     = 64
	maxIdleSlots = 1 << 16 // 2 MiB
)

type slot[V any] struct {
	key  Key
	hash uint64
	v    *V // nil: empty slot
}

// Table maps keys to non-nil pointers. The zero value is not usable: use
// New. Not safe for concurrent use.
type Table[V any] struct {
	slots []slot[V]
	mask  uint64
	n     int
	seed  [3]uint64
}

// New returns an empty table.
func New[V any]() *Table[V] {
	return &Table[V]{
		slots: make([]slot[V], minSlots), mask: minSlots - 1,
		seed: [3]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()},
	}
}

// Len returns the number of entries.
func (t *Table[V]) Len() int { return t.n }

// hash mixes the key's two words with the table's secret seed by 64×64→128
// bit multiplications, folding the halves (as wyhash does for 16 bytes):
// a few cycles, against a call into hash/maphash over 16 bytes. Without the
// seed, which never leaves the process, a client cannot compute which ids
// share a slot.
func (t *Table[V]) hash(k *Key) uint64 {
	lo := binary.LittleEndian.Uint64(k[:8])
	hi := binary.LittleEndian.Uint64(k[8:])
	return mix(mix(lo^t.seed[0], hi^t.seed[1]), t.seed[2]^lo^hi)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Get returns the value stored for k, or nil.
func (t *Table[V]) Get(k Key) *V { return t.GetHashed(&k, t.hash(&k)) }

// GetHashed is Get for a key whose hash h came from Hash: a caller can
// compute hashes before taking the lock it guards the table with.
func (t *Table[V]) GetHashed(k *Key, h uint64) *V {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.v == nil {
			return nil
		}
		if s.hash == h && s.key == *k {
			return s.v
		}
	}
}

// Hash returns k's hash in t, for GetHashed, PutHashed, TouchHashed and
// DeleteHashed: a caller about to look up or delete several keys reads
// their slots first, in a row, so that the processor fetches those cache
// lines in parallel rather than waiting for each in turn. The hash stays
// valid for the table's life (the seed never changes).
func (t *Table[V]) Hash(k *Key) uint64 { return t.hash(k) }

// TouchHashed reads the home slot of the key with hash h (from Hash, with no
// resize since). The result exists only so the read is not optimized away.
func (t *Table[V]) TouchHashed(h uint64) uint64 { return t.slots[h&t.mask].hash }

// Put stores v for k, replacing any value stored for it. v must not be nil
// (nil marks an empty slot).
func (t *Table[V]) Put(k Key, v *V) { t.PutHashed(k, t.hash(&k), v) }

// PutHashed is Put for a key whose hash h came from Hash.
func (t *Table[V]) PutHashed(k Key, h uint64, v *V) {
	// Grow at a load of 3/4: linear probing degrades beyond.
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	if t.insert(k, h, v) {
		t.n++
	}
}

// insert stores v and reports whether k is new.
func (t *Table[V]) insert(k Key, h uint64, v *V) bool {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.v == nil {
			*s = slot[V]{key: k, hash: h, v: v}
			return true
		}
		if s.hash == h && s.key == k {
			s.v = v
			return false
		}
	}
}

// Delete removes k if present.
func (t *Table[V]) Delete(k Key) { t.DeleteHashed(k, t.hash(&k)) }

// DeleteHashed removes k, whose hash h came from Hash, if present.
func (t *Table[V]) DeleteHashed(k Key, h uint64) {
	i := h & t.mask
	for {
		s := &t.slots[i]
		if s.v == nil {
			return
		}
		if s.hash == h && s.key == k {
			break
		}
		i = (i + 1) & t.mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// unless that would put them before their home slot.
	for j := (i + 1) & t.mask; t.slots[j].v != nil; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		// The entry at j may move to i if its home is not in (i, j]
		// (cyclically).
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot[V]{}
	t.n--
	// Tables are drained and refilled all the time: only a large table
	// left empty after a burst is given back.
	if t.n == 0 && len(t.slots) > maxIdleSlots {
		t.resize(minSlots)
	}
}

func (t *Table[V]) resize(n int) {
	n = max(n, minSlots)
	old := t.slots
	t.slots, t.mask = make([]slot[V], n), uint64(n-1)
	for i := range old {
		if s := &old[i]; s.v != nil {
			t.insert(s.key, s.hash, s.v)
		}
	}
}

// All yields every entry, in no particular order. The table must not be
// changed during the iteration.
func (t *Table[V]) All() iter.Seq2[Key, *V] {
	return func(yield func(Key, *V) bool) {
		for i := range t.slots {
			if s := &t.slots[i]; s.v != nil && !yield(s.key, s.v) {
				return
			}
		}
	}
}
