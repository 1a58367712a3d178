package kvlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/crcframe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testOptions() Options {
	return Options{SegmentSize: 4 << 10, InlineMax: 64}
}

func open(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func set(t *testing.T, s *Store, key string, value []byte) {
	t.Helper()
	require.NoError(t, s.Batch([]*storage.Operation{{Type: storage.Set, Key: key, Value: value}}))
}

func get(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	ops := []*storage.Operation{{Type: storage.Get, Key: key}}
	require.NoError(t, s.Batch(ops))
	return ops[0].Value
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	require.NoError(t, err)
	return m
}

func TestBatchAppliesInOrder(t *testing.T) {
	s := open(t, t.TempDir(), testOptions())
	big := bytes.Repeat([]byte("v"), 1000) // read back from the file, not memory
	ops := []*storage.Operation{
		{Type: storage.Get, Key: "a"},
		{Type: storage.Set, Key: "a", Value: []byte("1")},
		{Type: storage.Get, Key: "a"},
		{Type: storage.Set, Key: "b", Value: big},
		{Type: storage.Get, Key: "b"},
		{Type: storage.Delete, Key: "a"},
		{Type: storage.Get, Key: "a"},
		{Type: storage.Set, Key: "empty", Value: []byte{}},
		{Type: storage.Get, Key: "empty"},
	}
	require.NoError(t, s.Batch(ops))
	require.Nil(t, ops[0].Value)
	require.Equal(t, []byte("1"), ops[2].Value)
	require.Equal(t, big, ops[4].Value)
	require.Nil(t, ops[6].Value)
	require.NotNil(t, ops[8].Value, "an empty value is present, not absent")
	require.Empty(t, ops[8].Value)

	// Values handed out are copies: changing one changes nothing stored.
	v := get(t, s, "b")
	v[0] = 'x'
	require.Equal(t, big, get(t, s, "b"))
	in := []byte("abc")
	set(t, s, "c", in)
	in[0] = 'x'
	require.Equal(t, []byte("abc"), get(t, s, "c"))
}

func TestReopenReplays(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	big := bytes.Repeat([]byte("0123456789"), 50)
	set(t, s, "small", []byte("x"))
	set(t, s, "big", big)
	set(t, s, "gone", []byte("y"))
	require.NoError(t, s.Batch([]*storage.Operation{{Type: storage.Delete, Key: "gone"}, {Type: storage.Set, Key: "small", Value: []byte("z")}}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	require.ErrorIs(t, s.Batch([]*storage.Operation{{Type: storage.Get, Key: "small"}}), ErrClosed)

	s = open(t, dir, testOptions())
	require.Equal(t, []byte("z"), get(t, s, "small"))
	require.Equal(t, big, get(t, s, "big"))
	require.Nil(t, get(t, s, "gone"))
}

func TestTornTailIsCutAndCounted(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	set(t, s, "a", []byte("kept"))
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	before, err := os.ReadFile(seg)
	require.NoError(t, err)
	// A crash in the middle of the next frame: a prefix of it on disk.
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, opSet, 1})
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = open(t, dir, testOptions())
	require.Equal(t, int64(10), s.Stats().TornBytes)
	require.Equal(t, []byte("kept"), get(t, s, "a"))
	set(t, s, "b", []byte("after"))
	require.NoError(t, s.Close())
	after, err := os.ReadFile(seg)
	require.NoError(t, err)
	require.Equal(t, before, after[:len(before)], "the torn bytes were cut, new frames follow the valid ones")

	s = open(t, dir, testOptions())
	require.Zero(t, s.Stats().TornBytes)
	require.Equal(t, []byte("kept"), get(t, s, "a"))
	require.Equal(t, []byte("after"), get(t, s, "b"))
}

// A persistent queue's pattern: items written, read and deleted in order,
// one metadata key rewritten every time. Segments must be reclaimed, and a
// key written once at the start must survive every compaction.
func TestQueueWorkloadStaysBounded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, testOptions())
	set(t, s, "pinned", []byte("first"))
	item := bytes.Repeat([]byte("i"), 300)
	for i := range 2000 {
		key := fmt.Sprintf("item/%d", i)
		require.NoError(t, s.Batch([]*storage.Operation{{Type: storage.Set, Key: "meta", Value: fmt.Appendf(nil, "w%d", i)}, {Type: storage.Set, Key: key, Value: item}}))
		if i >= 5 { // five items in flight
			old := fmt.Sprintf("item/%d", i-5)
			require.NoError(t, s.Batch([]*storage.Operation{{Type: storage.Set, Key: "meta", Value: fmt.Appendf(nil, "r%d", i)}, {Type: storage.Delete, Key: old}}))
		}
	}
	st := s.Stats()
	require.Greater(t, st.SegmentsRemoved, int64(100))
	require.LessOrEqual(t, len(segments(t, dir)), 3)
	require.NoError(t, s.Close())

	s = open(t, dir, testOptions())
	require.Equal(t, []byte("first"), get(t, s, "pinned"))
	require.Equal(t, []byte("r1999"), get(t, s, "meta"))
	for i := range 2000 {
		v := get(t, s, fmt.Sprintf("item/%d", i))
		if i >= 1995 {
			require.Equal(t, item, v, i)
		} else {
			require.Nil(t, v, i)
		}
	}
}

// A delete must outlive the value it deleted: if the segment holding the
// delete went before the one holding the value, reopening would bring the
// value back.
func TestDeletedValueStaysDeletedAcrossCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := open(t, dir, opts)
	// Segment 1: the value, kept mostly live by a large neighbour.
	set(t, s, "victim", []byte("v"))
	set(t, s, "anchor", bytes.Repeat([]byte("a"), int(opts.SegmentSize)))
	// Segment 2 on: the delete, then enough churn to close it.
	require.NoError(t, s.Batch([]*storage.Operation{{Type: storage.Delete, Key: "victim"}}))
	for i := range 40 {
		set(t, s, "churn", bytes.Repeat([]byte{byte(i)}, 500))
	}
	require.Greater(t, len(segments(t, dir)), 2, "segment 1 is pinned by its live anchor")
	require.NoError(t, s.Close())
	s = open(t, dir, opts)
	require.Nil(t, get(t, s, "victim"))
	require.Len(t, get(t, s, "anchor"), int(opts.SegmentSize))
}

func TestSecondOpenOfADirectoryFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, testOptions())
	_, err := Open(dir, testOptions())
	require.ErrorContains(t, err, "in use")
}

// Random operations, reopened now and then, against a map.
func TestMatchesAMap(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	opts := Options{SegmentSize: 2 << 10, InlineMax: 16}
	s, err := Open(dir, opts)
	require.NoError(t, err)
	want := map[string][]byte{}
	for round := range 3000 {
		var ops []*storage.Operation
		for range 1 + rng.IntN(4) {
			key := fmt.Sprintf("k%d", rng.IntN(40))
			switch rng.IntN(3) {
			case 0:
				ops = append(ops, storage.GetOperation(key))
			case 1:
				v := bytes.Repeat([]byte{byte(round)}, rng.IntN(100))
				ops = append(ops, storage.SetOperation(key, v))
			case 2:
				ops = append(ops, storage.DeleteOperation(key))
			}
		}
		// What each get must see: the map after the ops before it.
		var expect [][]byte
		for _, op := range ops {
			switch op.Type {
			case storage.Get:
				expect = append(expect, want[op.Key])
			case storage.Set:
				want[op.Key] = op.Value
			case storage.Delete:
				delete(want, op.Key)
			}
		}
		require.NoError(t, s.Batch(ops))
		gi := 0
		for _, op := range ops {
			if op.Type == storage.Get {
				require.Equal(t, expect[gi], op.Value, "round %d key %s", round, op.Key)
				gi++
			}
		}
		if rng.IntN(200) == 0 {
			require.NoError(t, s.Close())
			s, err = Open(dir, opts)
			require.NoError(t, err)
		}
	}
	for k, v := range want {
		require.Equal(t, v, get(t, s, k), k)
	}
	require.NoError(t, s.Close())
	require.Less(t, len(segments(t, dir)), 10)
}

// FuzzOpen: whatever bytes a segment holds, Open recovers a store that
// answers and accepts writes, and never panics.
func FuzzOpen(f *testing.F) {
	seed := t0Segment(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Add([]byte(strings.Repeat("\xff", 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "0000000000000001"+segmentSuffix), data, 0o600))
		s, err := Open(dir, testOptions())
		require.NoError(t, err)
		defer s.Close()
		for _, k := range []string{"a", "b", "c"} {
			get(t, s, k)
		}
		set(t, s, "new", []byte("value"))
		require.Equal(t, []byte("value"), get(t, s, "new"))
	})
}

// t0Segment returns the bytes of a segment holding a few operations.
func t0Segment(f *testing.F) []byte {
	dir := f.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(f, err)
	require.NoError(f, s.Batch([]*storage.Operation{
		{Type: storage.Set, Key: "a", Value: []byte("1")},
		{Type: storage.Set, Key: "b", Value: bytes.Repeat([]byte("2"), 100)},
	}))
	require.NoError(f, s.Batch([]*storage.Operation{{Type: storage.Delete, Key: "a"}, {Type: storage.Set, Key: "c", Value: nil}}))
	require.NoError(f, s.Close())
	data, err := os.ReadFile(filepath.Join(dir, "0000000000000001"+segmentSuffix))
	require.NoError(f, err)
	return data
}

// A failed rotation does not fail the write that triggered it: the batch is
// on disk and applied, the active segment keeps growing, and rotation is
// tried again at the next write.
func TestFailedRotationKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := open(t, dir, opts)
	// The next segment's name is taken (by a directory), so creating it fails.
	blocker := filepath.Join(dir, "0000000000000002"+segmentSuffix)
	require.NoError(t, os.Mkdir(blocker, 0o700))
	value := bytes.Repeat([]byte("v"), 1000)
	for i := range 10 {
		set(t, s, fmt.Sprintf("k%d", i), value)
	}
	require.Positive(t, s.Stats().MaintenanceErrors)
	require.ErrorContains(t, s.LastMaintenanceError(), "create segment")
	require.Len(t, segments(t, dir), 2, "segment 1 and the blocking directory")

	require.NoError(t, os.Remove(blocker))
	set(t, s, "after", value)
	require.Len(t, segments(t, dir), 2, "rotated at the next write")
	require.NoError(t, s.Close())

	s = open(t, dir, opts)
	for i := range 10 {
		require.Equal(t, value, get(t, s, fmt.Sprintf("k%d", i)))
	}
	require.Equal(t, value, get(t, s, "after"))
}

// Keys written once and never again (idle files' offsets) keep the oldest
// segment mostly live; the dead segments behind it must still be reclaimed.
func TestDeadSegmentsBehindAMostlyLiveOneAreReclaimed(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := open(t, dir, opts)
	idle := bytes.Repeat([]byte("o"), 100)
	for i := range 30 { // ~3.4 KB live: most of the first 4 KiB segment
		set(t, s, fmt.Sprintf("file/%02d", i), idle)
	}
	for i := range 20000 { // ~400 KB of rewrites of one key
		set(t, s, "file/active", fmt.Append(nil, i))
	}
	var total int64
	for _, seg := range segments(t, dir) {
		st, err := os.Stat(seg)
		require.NoError(t, err)
		total += st.Size()
	}
	require.Less(t, total, 4*opts.SegmentSize, "%d segments", len(segments(t, dir)))
	require.NoError(t, s.Close())

	s = open(t, dir, opts)
	for i := range 30 {
		require.Equal(t, idle, get(t, s, fmt.Sprintf("file/%02d", i)))
	}
	require.Equal(t, []byte("19999"), get(t, s, "file/active"))
}

// A get that fails in a batch fails the whole batch before anything is
// written: nothing of it is applied, in memory or on disk.
func TestBatchWithFailingGetChangesNothing(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64, InlineMax: 16}
	s := open(t, dir, opts)
	// "big" is read back from segment 1, which rotation closes.
	set(t, s, "big", bytes.Repeat([]byte("b"), 100))
	require.Len(t, segments(t, dir), 2)
	// A failing read (here: the file shrank under the store).
	require.NoError(t, os.Truncate(segments(t, dir)[0], 10))
	ops := []*storage.Operation{storage.SetOperation("a", []byte("1")), storage.GetOperation("big"), storage.SetOperation("b", []byte("2"))}
	require.ErrorContains(t, s.Batch(ops), "read value")
	require.Nil(t, ops[1].Value)
	require.Nil(t, get(t, s, "a"))
	require.Nil(t, get(t, s, "b"))
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(segments(t, dir)[0]))
	s = open(t, dir, opts)
	require.Nil(t, get(t, s, "a"))
	require.Nil(t, get(t, s, "b"))
}

// frameStarts returns the offset of every frame in a segment's bytes.
func frameStarts(t *testing.T, data []byte) []int {
	t.Helper()
	var starts []int
	for p := 0; p < len(data); p += 8 + int(binary.LittleEndian.Uint32(data[p:])) {
		starts = append(starts, p)
	}
	return starts
}

// A damaged frame in the middle of a segment (the file otherwise whole) is
// skipped: every valid frame after it is kept, the damage is reported with
// its file and offset and counted, and it is not taken for a torn tail.
func TestDamagedFrameIsSkipped(t *testing.T) {
	for name, damage := range map[string]func(frame []byte){
		"payload":  func(frame []byte) { frame[12] ^= 0xff; frame[13] ^= 0x0f },
		"length":   func(frame []byte) { frame[0] ^= 0x40; frame[2] ^= 0x01 },
		"checksum": func(frame []byte) { frame[5] ^= 0x80 },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions()
			s, err := Open(dir, opts)
			require.NoError(t, err)
			big := bytes.Repeat([]byte("b"), 500) // read back from the file
			set(t, s, "a", []byte("1"))
			require.NoError(t, s.Batch([]*storage.Operation{storage.SetOperation("lost", []byte("2")), storage.DeleteOperation("a")}))
			set(t, s, "c", big)
			set(t, s, "d", []byte("4"))
			require.NoError(t, s.Close())
			seg := segments(t, dir)[0]
			data, err := os.ReadFile(seg)
			require.NoError(t, err)
			starts := frameStarts(t, data)
			require.Len(t, starts, 4)
			damage(data[starts[1]:starts[2]])
			require.NoError(t, os.WriteFile(seg, data, 0o600))

			s = open(t, dir, opts)
			require.Equal(t, []SkippedRegion{{Path: seg, Offset: int64(starts[1]), Bytes: int64(starts[2] - starts[1])}}, s.Skipped())
			st := s.Stats()
			require.Equal(t, int64(starts[2]-starts[1]), st.SkippedBytes)
			require.Zero(t, st.TornBytes)
			require.Nil(t, get(t, s, "lost"), "the damaged frame's writes are lost")
			require.Equal(t, []byte("1"), get(t, s, "a"), "including its delete")
			require.Equal(t, big, get(t, s, "c"))
			require.Equal(t, []byte("4"), get(t, s, "d"))
			set(t, s, "e", []byte("5"))
			require.NoError(t, s.Close())

			// New frames follow the old ones; the damage is skipped again.
			s = open(t, dir, opts)
			require.Len(t, s.Skipped(), 1)
			require.Equal(t, big, get(t, s, "c"))
			require.Equal(t, []byte("4"), get(t, s, "d"))
			require.Equal(t, []byte("5"), get(t, s, "e"))
			require.NoError(t, s.Close())

			opts.FailOnDamage = true
			_, err = Open(dir, opts)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, fmt.Sprintf("%s has a damaged frame at byte %d", seg, starts[1]))
		})
	}
}

// A damaged last frame has no valid frame after it: it cannot be told from
// an unfinished write, so it is cut off as a torn tail.
func TestDamagedLastFrameIsATornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	set(t, s, "a", []byte("kept"))
	set(t, s, "b", []byte("damaged"))
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	starts := frameStarts(t, data)
	data[len(data)-2] ^= 0xff
	require.NoError(t, os.WriteFile(seg, data, 0o600))

	s = open(t, dir, testOptions())
	require.Empty(t, s.Skipped())
	require.Equal(t, int64(len(data)-starts[1]), s.Stats().TornBytes)
	require.Equal(t, []byte("kept"), get(t, s, "a"))
	require.Nil(t, get(t, s, "b"))
}

// Bytes inside an unfinished write that happen to form a valid frame (a
// value holding a journal frame) are not taken for the next frame: a
// candidate must be followed by another valid frame or end the data.
func TestFrameInsideATornValueIsNotTakenForOne(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	require.NoError(t, err)
	set(t, s, "a", []byte("kept"))
	// A value holding a whole frame setting "a", then more bytes.
	inner := appendKey(nil, opSet, "a")
	inner = binary.AppendUvarint(inner, 6)
	inner = append(inner, "forged"...)
	value := append(crcframe.Append(nil, inner), bytes.Repeat([]byte("z"), 200)...)
	set(t, s, "torn", value)
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	starts := frameStarts(t, data)
	// A crash partway into the value, after the inner frame.
	cut := bytes.Index(data, value) + len(value) - 100
	require.NoError(t, os.Truncate(seg, int64(cut)))

	s = open(t, dir, testOptions())
	require.Empty(t, s.Skipped())
	require.Equal(t, int64(cut-starts[1]), s.Stats().TornBytes)
	require.Equal(t, []byte("kept"), get(t, s, "a"))
	require.Nil(t, get(t, s, "torn"))
}

// A zero-filled tail (a preallocated or extended region the writes never
// reached, after a crash) is the end of the data: it is cut off and counted
// as a torn tail, not read as empty frames that new frames would follow.
func TestZeroFilledTailIsCut(t *testing.T) {
	for name, zeros := range map[string]struct{ from, n int }{
		"after the last frame":          {0, 4096},
		"over the last frame's payload": {-5, 4096}, // its header kept
		"a short run":                   {0, 3},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, testOptions())
			require.NoError(t, err)
			set(t, s, "a", []byte("kept"))
			require.NoError(t, s.Close())
			seg := segments(t, dir)[0]
			before, err := os.ReadFile(seg)
			require.NoError(t, err)
			data := append(bytes.Clone(before[:len(before)+zeros.from]), make([]byte, zeros.n)...)
			require.NoError(t, os.WriteFile(seg, data, 0o600))
			valid := before
			if zeros.from < 0 {
				valid = nil
			}

			s = open(t, dir, testOptions())
			require.Empty(t, s.Skipped())
			require.Equal(t, int64(len(data)-len(valid)), s.Stats().TornBytes)
			st, err := os.Stat(seg)
			require.NoError(t, err)
			require.Equal(t, int64(len(valid)), st.Size(), "cut back to the valid frames")
			set(t, s, "b", []byte("after"))
			require.NoError(t, s.Close())

			s = open(t, dir, testOptions())
			require.Zero(t, s.Stats().TornBytes)
			require.Equal(t, []byte("after"), get(t, s, "b"))
			if valid != nil {
				require.Equal(t, []byte("kept"), get(t, s, "a"))
			}
		})
	}
}

// A damaged frame in an older segment is skipped as in the newest one.
func TestDamagedFrameInOlderSegmentIsSkipped(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := open(t, dir, opts)
	require.NoError(t, s.Batch([]*storage.Operation{storage.SetOperation("victim", []byte("deleted later")), storage.SetOperation("anchor", bytes.Repeat([]byte("a"), 3000))}))
	require.NoError(t, s.Batch([]*storage.Operation{storage.DeleteOperation("victim")}))
	set(t, s, "filler", bytes.Repeat([]byte("f"), 2000)) // closes segment 1
	set(t, s, "later", []byte("l"))
	require.Len(t, segments(t, dir), 2)
	require.NoError(t, s.Close())

	// Flip a byte in the second frame (the delete) of segment 1.
	first := segments(t, dir)[0]
	data, err := os.ReadFile(first)
	require.NoError(t, err)
	starts := frameStarts(t, data)
	data[starts[1]+9] ^= 0xff
	require.NoError(t, os.WriteFile(first, data, 0o600))

	s = open(t, dir, opts)
	require.Equal(t, []SkippedRegion{{Path: first, Offset: int64(starts[1]), Bytes: int64(starts[2] - starts[1])}}, s.Skipped())
	require.Equal(t, []byte("deleted later"), get(t, s, "victim"), "the lost delete: documented")
	require.Len(t, get(t, s, "anchor"), 3000)
	require.Len(t, get(t, s, "filler"), 2000)
	require.Equal(t, []byte("l"), get(t, s, "later"))
}

// A segment other than the newest that does not end in a valid frame (cut
// short, or damaged in its last frame) lost an unknown part: Open refuses,
// naming the file, since replaying the segments after it could bring back
// values deleted in the lost part.
func TestOlderSegmentCutShortIsCorruption(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := open(t, dir, opts)
	set(t, s, "anchor", bytes.Repeat([]byte("a"), 3000))
	set(t, s, "filler", bytes.Repeat([]byte("f"), 2000)) // closes segment 1
	require.Len(t, segments(t, dir), 2)
	require.NoError(t, s.Close())

	first := segments(t, dir)[0]
	st, err := os.Stat(first)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(first, st.Size()-10))

	_, err = Open(dir, opts)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, filepath.Base(first))
	// The failed open released the directory.
	require.NoError(t, os.Rename(dir, dir+".aside"))
}

// With fsync, the directories Open creates are synced into their parents.
func TestMkdirAllSyncsNewDirectories(t *testing.T) {
	base := t.TempDir()
	var synced []string
	syncDirectory = func(dir string) error {
		synced = append(synced, dir)
		return nil
	}
	t.Cleanup(func() { syncDirectory = syncDir })
	dir := filepath.Join(base, "a", "b", "client")
	opts := testOptions()
	opts.FSync = true
	s := open(t, dir, opts)
	require.NoError(t, s.Close())
	require.Subset(t, synced, []string{base, filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir})
}
