package validate

import (
	"sort"
	"strconv"
	"strings"
	"sync"
)

// IDAttribute is the attribute every generated record carries.
const IDAttribute = "sluice.test.id"

// Multiset counts ids. Ids of the form <prefix><decimal n> (what the load
// generators emit) live in a dense slice, so millions of ids cost a few bytes
// each; any other id goes to a map. Safe for concurrent use.
type Multiset struct {
	mu     sync.Mutex
	prefix string
	dense  []uint32
	sparse map[string]uint32
	total  uint64
}

// NewMultiset returns an empty multiset whose dense ids start with prefix.
func NewMultiset(prefix string) *Multiset {
	return &Multiset{prefix: prefix, sparse: map[string]uint32{}}
}

// Prefix is the dense id prefix.
func (m *Multiset) Prefix() string { return m.prefix }

// ID formats the dense id n.
func (m *Multiset) ID(n uint64) string { return m.prefix + strconv.FormatUint(n, 10) }

// maxDense bounds the dense slice (an absurd number would otherwise allocate).
const maxDense = 1 << 28

func (m *Multiset) denseIndex(id string) (uint64, bool) {
	if m.prefix == "" || !strings.HasPrefix(id, m.prefix) {
		return 0, false
	}
	n, err := strconv.ParseUint(id[len(m.prefix):], 10, 64)
	if err != nil || n >= maxDense || (len(id) > len(m.prefix)+1 && id[len(m.prefix)] == '0') {
		return 0, false // not canonical: keep it distinct
	}
	return n, true
}

// Add counts one occurrence of id.
func (m *Multiset) Add(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(id, 1)
}

// AddBytes counts id given as bytes (readers scanning raw output).
func (m *Multiset) AddBytes(id []byte) { m.Add(string(id)) }

func (m *Multiset) addLocked(id string, c uint32) {
	if n, ok := m.denseIndex(id); ok {
		m.bump(n, c)
		return
	}
	m.sparse[id] += c
	m.total += uint64(c)
}

func (m *Multiset) bump(n uint64, c uint32) {
	if n >= uint64(len(m.dense)) {
		size := max(uint64(len(m.dense))*2, n+1, 1024)
		size = min(size, maxDense)
		grown := make([]uint32, size)
		copy(grown, m.dense)
		m.dense = grown
	}
	m.dense[n] += c
	m.total += uint64(c)
}

// AddSeq counts the dense ids start … start+count-1 once each.
func (m *Multiset) AddSeq(start, count uint64) {
	if count == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bump(start+count-1, 0) // grow once
	for n := start; n < start+count; n++ {
		m.dense[n]++
	}
	m.total += count
}

// Merge adds every occurrence of other.
func (m *Multiset) Merge(other *Multiset) {
	other.Each(func(id string, c uint32) {
		m.mu.Lock()
		m.addLocked(id, c)
		m.mu.Unlock()
	})
}

// Count returns how often id was added.
func (m *Multiset) Count(id string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.denseIndex(id); ok {
		if n < uint64(len(m.dense)) {
			return m.dense[n]
		}
		return 0
	}
	return m.sparse[id]
}

// Total is the number of occurrences; Distinct the number of different ids.
func (m *Multiset) Total() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Distinct counts different ids.
func (m *Multiset) Distinct() int {
	n := 0
	m.Each(func(string, uint32) { n++ })
	return n
}

// Each calls fn for every distinct id with its count (dense ids in order,
// then the others sorted). fn must not modify m.
func (m *Multiset) Each(fn func(id string, count uint32)) {
	m.mu.Lock()
	dense := m.dense
	keys := make([]string, 0, len(m.sparse))
	for k := range m.sparse {
		keys = append(keys, k)
	}
	counts := make([]uint32, 0, len(keys))
	sort.Strings(keys)
	for _, k := range keys {
		counts = append(counts, m.sparse[k])
	}
	m.mu.Unlock()
	for n, c := range dense {
		if c > 0 {
			fn(m.ID(uint64(n)), c)
		}
	}
	for i, k := range keys {
		fn(k, counts[i])
	}
}
