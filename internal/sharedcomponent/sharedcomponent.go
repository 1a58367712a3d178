// Package sharedcomponent lets several pipelines share one component instance
// by key (the component id): the instance is created by the first pipeline
// that asks for it and forgotten when the last one releases it. The
// collector's own go.opentelemetry.io/collector/internal/sharedcomponent is
// internal to the collector module and cannot be imported from ours.
package sharedcomponent // import "github.com/sluicelogs/sluice/internal/sharedcomponent"

import "sync"

// Map holds reference-counted shared values by key.
type Map[K comparable, V comparable] struct {
	mu      sync.Mutex
	entries map[K]*entry[V]
}

type entry[V any] struct {
	value V
	refs  int
}

// NewMap returns an empty Map.
func NewMap[K comparable, V comparable]() *Map[K, V] {
	return &Map[K, V]{entries: map[K]*entry[V]{}}
}

// Acquire returns the value stored under key, creating it with create when
// absent, and takes one reference on it.
func (m *Map[K, V]) Acquire(key K, create func() (V, error)) (V, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok {
		e.refs++
		return e.value, nil
	}
	v, err := create()
	if err != nil {
		var zero V
		return zero, err
	}
	m.entries[key] = &entry[V]{value: v, refs: 1}
	return v, nil
}

// Release drops one reference on the value stored under key and reports
// whether it was the last one; the value is then removed. Releasing a value
// that is no longer stored (or was replaced) reports false.
func (m *Map[K, V]) Release(key K, v V) (last bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || e.value != v {
		return false
	}
	e.refs--
	if e.refs > 0 {
		return false
	}
	delete(m.entries, key)
	return true
}

// Len is the number of values stored.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
