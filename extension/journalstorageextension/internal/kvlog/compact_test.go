package kvlog

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// No write copies more than one step of a compaction, however much live
// data the segment being removed holds: the rest is copied by the next
// writes, and nothing is lost on the way or across a reopen.
func TestCompactionCopiesInBoundedSteps(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64 << 10, InlineMax: 64, step: compactBudget{bytes: 4 << 10, keys: 1024}}
	s := open(t, dir, opts)
	value := bytes.Repeat([]byte("p"), 1000)
	for i := range 50 { // ~50 KB written once: segment 1 stays mostly live
		set(t, s, fmt.Sprintf("pinned/%02d", i), value)
	}
	// Largest copy one step can make: its budget, plus the value that
	// crosses it, plus a frame header.
	maxStep := opts.step.bytes + weight("pinned/00", len(value)) + 8
	var steps int
	for i := 0; s.Stats().SegmentsRemoved == 0; i++ {
		require.Less(t, i, 2000, "segment 1 was never removed")
		before := s.Stats().BytesCopied
		set(t, s, "churn", bytes.Repeat([]byte{byte(i)}, 1000))
		copied := s.Stats().BytesCopied - before
		require.LessOrEqual(t, copied, maxStep, "write %d", i)
		if copied > 0 {
			steps++
		}
	}
	require.GreaterOrEqual(t, steps, int(50*1000/maxStep), "the ~50 KB were copied over many writes")
	for i := range 50 {
		require.Equal(t, value, get(t, s, fmt.Sprintf("pinned/%02d", i)))
	}
	require.NoError(t, s.Close())
	s = open(t, dir, opts)
	for i := range 50 {
		require.Equal(t, value, get(t, s, fmt.Sprintf("pinned/%02d", i)))
	}
}

// The key bound holds too: a step looks at no more than its keys.
func TestCompactionStepLooksAtBoundedKeys(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 16 << 10, InlineMax: 64, step: compactBudget{bytes: 1 << 20, keys: 10}}
	s := open(t, dir, opts)
	for i := range 1000 { // ~9 KB of small keys, all live
		set(t, s, fmt.Sprintf("k/%03d", i), []byte("v"))
	}
	var copiesPerWrite []int64
	for i := 0; s.Stats().SegmentsRemoved == 0; i++ {
		require.Less(t, i, 5000, "segment 1 was never removed")
		before := s.Stats().BytesCopied
		set(t, s, "churn", fmt.Appendf(nil, "%04d", i%10000))
		if copied := s.Stats().BytesCopied - before; copied > 0 {
			copiesPerWrite = append(copiesPerWrite, copied)
		}
	}
	require.Greater(t, len(copiesPerWrite), 50, "copied over many writes")
	for _, c := range copiesPerWrite {
		require.LessOrEqual(t, c, 8+10*weight("churn", 4))
	}
	for i := range 1000 {
		require.Equal(t, []byte("v"), get(t, s, fmt.Sprintf("k/%03d", i)))
	}
}

// Writers and readers keep going while compaction moves live values in
// small steps between their batches: every read sees a whole batch (both
// keys a writer sets together at the same version), versions never go
// back, and every last value is there, also after a reopen.
func TestConcurrentAccessDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 16 << 10, InlineMax: 64, step: compactBudget{bytes: 1 << 10, keys: 8}}
	s, err := Open(dir, opts)
	require.NoError(t, err)
	const writers, readers, keysPerWriter, rounds = 4, 2, 20, 400
	// valueOf is self-checking: key and version, padded to a length that
	// depends on both (some values inline, some read from the file).
	valueOf := func(key string, version int) []byte {
		v := key + "@" + strconv.Itoa(version) + ";"
		return []byte(v + strings.Repeat("x", (version*7+len(key))%200))
	}
	versionOf := func(key string, v []byte) (int, bool) {
		head, _, ok := strings.Cut(string(v), ";")
		k, ver, ok2 := strings.Cut(head, "@")
		n, err := strconv.Atoi(ver)
		if !ok || !ok2 || k != key || err != nil || !bytes.Equal(v, valueOf(key, n)) {
			return 0, false
		}
		return n, true
	}
	// Pinned values, written once and kept live, make compaction copy.
	for i := range 300 {
		key := fmt.Sprintf("pinned/%03d", i)
		require.NoError(t, s.Batch([]*storage.Operation{storage.SetOperation(key, valueOf(key, 1))}))
	}
	final := make([]map[string]int, writers) // per writer: key -> last version (0: deleted)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		final[w] = map[string]int{}
		wg.Go(func() {
			for r := 1; r <= rounds; r++ {
				i := (r * 7) % keysPerWriter
				a, b := fmt.Sprintf("w%d/a%d", w, i), fmt.Sprintf("w%d/b%d", w, i)
				ops := []*storage.Operation{storage.SetOperation(a, valueOf(a, r)), storage.SetOperation(b, valueOf(b, r))}
				final[w][a], final[w][b] = r, r
				if r%5 == 0 { // a delete of another pair in the same batch
					j := (i + 3) % keysPerWriter
					da, db := fmt.Sprintf("w%d/a%d", w, j), fmt.Sprintf("w%d/b%d", w, j)
					ops = append(ops, storage.DeleteOperation(da), storage.DeleteOperation(db))
					final[w][da], final[w][db] = 0, 0
				}
				if !assert.NoError(t, s.Batch(ops)) {
					return
				}
			}
		})
	}
	var readWG sync.WaitGroup
	for rd := range readers {
		readWG.Go(func() {
			seen := map[string]int{}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				w, i := (n+rd)%writers, (n/writers)%keysPerWriter
				a, b := fmt.Sprintf("w%d/a%d", w, i), fmt.Sprintf("w%d/b%d", w, i)
				pinned := fmt.Sprintf("pinned/%03d", n%300)
				ops := []*storage.Operation{storage.GetOperation(a), storage.GetOperation(b), storage.GetOperation(pinned)}
				if !assert.NoError(t, s.Batch(ops)) {
					return
				}
				pv, ok := versionOf(pinned, ops[2].Value)
				assert.True(t, ok && pv == 1, "%s read as %q", pinned, ops[2].Value)
				if ops[0].Value == nil || ops[1].Value == nil {
					assert.Equal(t, ops[0].Value == nil, ops[1].Value == nil, "a batch applied in part: %s %q, %s %q", a, ops[0].Value, b, ops[1].Value)
					continue
				}
				va, okA := versionOf(a, ops[0].Value)
				vb, okB := versionOf(b, ops[1].Value)
				assert.True(t, okA && okB, "malformed value: %q %q", ops[0].Value, ops[1].Value)
				assert.Equal(t, va, vb, "a batch applied in part")
				assert.GreaterOrEqual(t, va, seen[a], "%s went back", a)
				seen[a] = va
			}
		})
	}
	wg.Wait()
	close(stop)
	readWG.Wait()

	st := s.Stats()
	require.Positive(t, st.SegmentsRemoved)
	require.Greater(t, st.BytesCopied, int64(30<<10), "the pinned values were copied forward")
	check := func(s *Store) {
		for i := range 300 {
			key := fmt.Sprintf("pinned/%03d", i)
			require.Equal(t, valueOf(key, 1), get(t, s, key))
		}
		for w := range writers {
			for key, version := range final[w] {
				if version == 0 {
					require.Nil(t, get(t, s, key), key)
				} else {
					require.Equal(t, valueOf(key, version), get(t, s, key), key)
				}
			}
		}
	}
	check(s)
	require.NoError(t, s.Close())
	s = open(t, dir, opts)
	check(s)
}
