package kvlog

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkSetLatencyDuringCompaction reports the slowest Set (max-µs/set)
// of concurrent writers while compaction repeatedly copies a large live set:
// 16 MiB of keys written once stay live behind 32 MiB segments (the default
// size) of rewrites of a few keys, so every 16k Sets or so compaction moves
// them forward.
func BenchmarkSetLatencyDuringCompaction(b *testing.B) {
	s, err := Open(b.TempDir(), Options{SegmentSize: 32 << 20, InlineMax: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte("v"), 2<<10) // read back from the file when copied
	for i := range 8000 {
		if err := s.Batch([]*storage.Operation{storage.SetOperation("pinned/"+strconv.Itoa(i), value)}); err != nil {
			b.Fatal(err)
		}
	}
	copiedBefore := s.Stats().BytesCopied
	var slowest atomic.Int64
	var writer atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		prefix := "churn/" + strconv.FormatInt(writer.Add(1), 10) + "/"
		for i := 0; pb.Next(); i++ {
			start := time.Now()
			if err := s.Batch([]*storage.Operation{storage.SetOperation(prefix+strconv.Itoa(i%8), value)}); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(start).Nanoseconds()
			for old := slowest.Load(); d > old && !slowest.CompareAndSwap(old, d); old = slowest.Load() {
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(slowest.Load())/1e3, "max-µs/set")
	b.ReportMetric(float64(s.Stats().BytesCopied-copiedBefore)/float64(b.N), "copied-B/set")
}

// BenchmarkOpenWithHighEntropyTornTail opens a segment whose last 16 MiB
// are random bytes (a torn write of a compressed value, or garbage):
// recovery looks at every offset of it for a frame to resume at.
func BenchmarkOpenWithHighEntropyTornTail(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{SegmentSize: 32 << 20, InlineMax: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Batch([]*storage.Operation{storage.SetOperation("a", []byte("kept"))}); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "0000000000000001"+segmentSuffix)
	valid, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	junk := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	for b.Loop() {
		if err := os.WriteFile(path, append(valid, junk...), 0o600); err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir, Options{SegmentSize: 32 << 20, InlineMax: 1 << 10})
		if err != nil {
			b.Fatal(err)
		}
		if s.Stats().TornBytes != int64(len(junk)) {
			b.Fatalf("torn %d bytes, want %d", s.Stats().TornBytes, len(junk))
		}
		s.Close()
	}
}
