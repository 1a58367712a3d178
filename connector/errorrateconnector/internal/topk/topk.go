// Package topk keeps approximate top-k counts of keys in bounded memory with
// the Space-Saving algorithm (Metwally et al., 2005): at most Capacity keys
// are tracked; a new key arriving when the table is full replaces the key
// with the smallest count and inherits that count as its error bound.
package topk // import "github.com/sluicelogs/sluice/connector/errorrateconnector/internal/topk"

import (
	"cmp"
	"slices"
)

// Counter is one tracked key.
type Counter struct {
	// Key is the tracked key.
	Key string
	// Hash is a hash of Key used to skip string comparisons.
	Hash uint64
	// Count is the (over-)estimated number of occurrences.
	Count uint64
	// Overcount bounds how much Count may exceed the true count.
	Overcount uint64
}

// Sketch is a Space-Saving table. The zero value is unusable; use New.
type Sketch struct {
	capacity int
	items    []Counter
}

// New returns a sketch tracking at most capacity keys (at least 1).
func New(capacity int) *Sketch {
	capacity = max(capacity, 1)
	return &Sketch{capacity: capacity, items: make([]Counter, 0, min(capacity, 8))}
}

// Len returns the number of tracked keys.
func (s *Sketch) Len() int { return len(s.items) }

// Add counts n occurrences of key. key is copied only when it becomes tracked.
func (s *Sketch) Add(hash uint64, key []byte, n uint64) {
	for i := range s.items {
		if s.items[i].Hash == hash && s.items[i].Key == string(key) {
			s.items[i].Count += n
			return
		}
	}
	s.insert(Counter{Key: string(key), Hash: hash, Count: n})
}

// AddCounter counts c into the sketch, keeping c's error bound.
func (s *Sketch) AddCounter(c Counter) {
	for i := range s.items {
		if s.items[i].Hash == c.Hash && s.items[i].Key == c.Key {
			s.items[i].Count += c.Count
			s.items[i].Overcount += c.Overcount
			return
		}
	}
	s.insert(c)
}

// insert tracks a new key, replacing the smallest counter when full; the new
// key inherits the replaced count as its overcount.
func (s *Sketch) insert(c Counter) {
	if len(s.items) < s.capacity {
		s.items = append(s.items, c)
		return
	}
	low := 0
	for i := 1; i < len(s.items); i++ {
		if s.items[i].Count < s.items[low].Count {
			low = i
		}
	}
	base := s.items[low].Count
	c.Count += base
	c.Overcount += base
	s.items[low] = c
}

// Reset forgets all keys, keeping the allocated table.
func (s *Sketch) Reset() {
	clear(s.items)
	s.items = s.items[:0]
}

// Top appends to dst the n keys with the highest guaranteed counts
// (Count-Overcount), highest first (ties by key, so the order is
// deterministic) and returns dst. Ranking by the guaranteed count keeps a
// slot that churned through many rare keys from outranking a real heavy hitter.
func (s *Sketch) Top(n int, dst []Counter) []Counter {
	start := len(dst)
	dst = append(dst, s.items...)
	top := dst[start:]
	slices.SortFunc(top, func(a, b Counter) int {
		if c := cmp.Compare(b.Count-b.Overcount, a.Count-a.Overcount); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(top) > n {
		clear(top[n:])
		dst = dst[:start+n]
	}
	return dst
}
