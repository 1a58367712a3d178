// Package decisioncache remembers the decisions of recently decided groups so
// that records arriving after the decision follow it.
package decisioncache // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/decisioncache"

import (
	"encoding/binary"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keyhash"
)

// Key identifies a group (a trace id, or a hash of a correlation value).
type Key = [16]byte

// FIFO is a bounded map from Key to a small value. When full, Put evicts the
// oldest entry. First-in-first-out rather than LRU: a group's late records
// arrive shortly after its decision, so recency of insertion is what
// matters, and FIFO needs no per-hit bookkeeping.
//
// Keys are stored as 64-bit fingerprints (about 24 bytes per entry instead of
// about 45); two groups share a fingerprint with probability ~2^-64 per pair,
// negligible for caches of millions. Memory grows with use up to the size.
// Not safe for concurrent use.
type FIFO struct {
	entries map[uint64]uint8
	ring    []uint64
	size    int
	next    int
}

// New returns a cache holding up to size entries; size 0 disables it.
func New(size int) *FIFO {
	return &FIFO{entries: map[uint64]uint8{}, size: size}
}

// fingerprint folds a key into 64 well-mixed bits (murmur3 finalizer), so
// that sequential or structured ids do not collide.
func fingerprint(k Key) uint64 {
	return keyhash.Mix64(binary.LittleEndian.Uint64(k[:8]) ^ keyhash.Mix64(binary.LittleEndian.Uint64(k[8:])))
}

// Get returns the value stored for k.
func (c *FIFO) Get(k Key) (uint8, bool) {
	v, ok := c.entries[fingerprint(k)]
	return v, ok
}

// Put stores v for k and reports whether an older entry was evicted to make
// room. Putting a key already present updates its value in place.
func (c *FIFO) Put(k Key, v uint8) (evicted bool) {
	if c.size == 0 {
		return false
	}
	f := fingerprint(k)
	if _, ok := c.entries[f]; ok {
		c.entries[f] = v
		return false
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, f)
	} else {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = f
		c.next = (c.next + 1) % c.size
		evicted = true
	}
	c.entries[f] = v
	return evicted
}

// Len is the number of entries held.
func (c *FIFO) Len() int { return len(c.entries) }
