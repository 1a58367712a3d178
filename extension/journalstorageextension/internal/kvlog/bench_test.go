package kvlog

import (
	"bytes"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// BenchmarkQueueCycle is a persistent queue's pattern per request: store
// the item and the write index, read it and record it as dispatched, delete
// it and update the read index.
func BenchmarkQueueCycle(b *testing.B) {
	s, err := Open(b.TempDir(), Options{SegmentSize: 32 << 20, InlineMax: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	item := bytes.Repeat([]byte("i"), 4<<10)
	b.SetBytes(int64(len(item)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		key := strconv.Itoa(i)
		idx := []byte(key)
		if err := s.Batch([]*storage.Operation{storage.SetOperation(key, item), storage.SetOperation("wi", idx)}); err != nil {
			b.Fatal(err)
		}
		if err := s.Batch([]*storage.Operation{storage.GetOperation(key), storage.SetOperation("di", idx)}); err != nil {
			b.Fatal(err)
		}
		if err := s.Batch([]*storage.Operation{storage.DeleteOperation(key), storage.SetOperation("ri", idx)}); err != nil {
			b.Fatal(err)
		}
	}
}
