// Package decisioncache remembers the decisions of recently decided groups so
// that records arriving after the decision follow it.
package decisioncache // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/decisioncache"

import (
	"encoding/binary"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keyhash"
)

// Key identifies a group (a trace id, or a hash of a correlation value).
type Key = [16]byte

// bucketEntries is the number of entries per bucket: 8 × 8 bytes, one
// 64-byte cache line.
const bucketEntries = 8

// Cache is a bounded map from Key to a small value, evicting oldest first
// within a bucket. Every decided group is a Put and every new group's first
// record a Get, so an operation should touch one cache line: a key maps to
// one bucket of 8 entries, a Get compares 8 words, and a Put into a full
// bucket overwrites the bucket's oldest entry (a per-bucket round-robin
// cursor). Oldest-first rather than least-recently-used: a group's late
// records arrive shortly after its decision, so recency of insertion is what
// matters. Unlike one global FIFO, an entry of a bucket that happens to
// receive its next 8 keys early leaves early: with buckets of 8 and keys
// spread evenly, about 5 % of entries are evicted before half the cache's
// size of newer decisions, and entries of less busy buckets stay longer.
//
// An entry is one word: the key's 64-bit fingerprint with its low 8 bits
// replaced by the value (two groups share an entry with probability ~2^-56
// per pair, negligible for caches of millions). The table, 8 bytes per
// entry plus 1 byte per bucket, is allocated by the first Put. Not safe for
// concurrent use.
type Cache struct {
	entries []uint64 // bucket b is entries[8b : 8b+8]; 0 = empty
	cursor  []uint8  // per bucket: the entry a Put into a full bucket overwrites
	buckets uint64
	n       int
	size    int
}

// New returns a cache holding up to size entries (rounded up to a multiple
// of 8); size 0 disables it.
func New(size int) *Cache {
	return &Cache{size: size}
}

// Fingerprint folds a key into 64 well-mixed bits (murmur3 finalizer), so
// that sequential or structured ids do not collide. Every Cache uses it: a
// caller putting one key into several caches computes it once.
func Fingerprint(k Key) uint64 {
	return keyhash.Mix64(binary.LittleEndian.Uint64(k[:8]) ^ keyhash.Mix64(binary.LittleEndian.Uint64(k[8:])))
}

// locate returns the tag of the key with fingerprint f (f without its low
// byte, never 0) and the index of its bucket's first entry. The bucket comes from the fingerprint's
// low 32 bits (multiply-shift, so any bucket count works), the tag from its
// high 56.
func (c *Cache) locate(f uint64) (tag uint64, first uint64) {
	tag = f &^ 0xff
	if tag == 0 {
		tag = 1 << 8
	}
	return tag, (uint64(uint32(f)) * c.buckets >> 32) * bucketEntries
}

// Get returns the value stored for k.
func (c *Cache) Get(k Key) (uint8, bool) {
	if c.n == 0 {
		return 0, false
	}
	tag, first := c.locate(Fingerprint(k))
	for _, e := range c.entries[first : first+bucketEntries] {
		if e&^0xff == tag {
			return uint8(e), true
		}
	}
	return 0, false
}

// Touch reads the bucket of the key with fingerprint f (from Fingerprint),
// as keytable's TouchHashed: to fetch the buckets of several keys in
// parallel before putting them. The result exists only so the read is not
// optimized away.
func (c *Cache) Touch(f uint64) uint64 {
	if c.entries == nil {
		return 0
	}
	_, first := c.locate(f)
	return c.entries[first]
}

// Put stores v for k and reports whether an older entry was evicted to make
// room. Putting a key already present updates its value in place.
func (c *Cache) Put(k Key, v uint8) (evicted bool) {
	return c.PutFingerprint(Fingerprint(k), v)
}

// PutFingerprint is Put for the key with fingerprint f (from Fingerprint).
func (c *Cache) PutFingerprint(f uint64, v uint8) (evicted bool) {
	if c.size == 0 {
		return false
	}
	if c.entries == nil {
		c.buckets = uint64((c.size + bucketEntries - 1) / bucketEntries)
		c.entries = make([]uint64, c.buckets*bucketEntries)
		c.cursor = make([]uint8, c.buckets)
	}
	tag, first := c.locate(f)
	bucket := c.entries[first : first+bucketEntries]
	for i, e := range bucket {
		if e&^0xff == tag {
			bucket[i] = tag | uint64(v)
			return false
		}
	}
	b := first / bucketEntries
	i := c.cursor[b]
	c.cursor[b] = (i + 1) % bucketEntries
	if bucket[i] != 0 {
		evicted = true
	} else {
		c.n++
	}
	bucket[i] = tag | uint64(v)
	return evicted
}

// Len is the number of entries held.
func (c *Cache) Len() int { return c.n }
