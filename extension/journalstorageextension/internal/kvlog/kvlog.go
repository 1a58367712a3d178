// Package kvlog is journal_storage's key-value store: an append-only log of
// checksummed frames (internal/crcframe) in numbered segment files, with the
// index in memory.
//
// Each Batch of sets and deletes is one frame, written with one write call
// (and one fsync when enabled): it is applied after a crash whole or not at
// all. Small values are also kept in memory; larger ones are read back from
// the segment. The active segment is closed once it reaches the segment
// size; the oldest closed segment is then removed, after its live values
// were appended to the active segment, when less than half of it is live or
// when the closed segments hold more dead bytes than max(segment size, live
// bytes). The copying is spread over the following writes in bounded steps,
// so no call waits for a whole segment to be copied. Only the oldest segment is ever removed, so a delete in a later
// segment can never be lost while an older segment still holds the value it
// deleted.
//
// Where the file system supports it (fallocate on Linux), the next segment
// is preallocated as a spare file. When the disk cannot hold a spare,
// batches that add data are refused with storage.ErrStorageFull while
// deletes and updates go on in the space already held, so a queue can drain
// and compaction can free whole segments.
//
// Frame payload: a sequence of operations, each [u8 kind][uvarint key
// length][key] followed, for a set, by [uvarint value length][value].
package kvlog // import "github.com/sluicelogs/sluice/extension/journalstorageextension/internal/kvlog"

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/sluicelogs/sluice/internal/crcframe"
)

// Operation kinds in a frame.
const (
	opSet    byte = 1
	opDelete byte = 2
)

const (
	segmentSuffix = ".seg"
	// spareName is the preallocated next segment (not a segment until it
	// is renamed to one, so load ignores it).
	spareName = "SPARE"
)

// Options tune a Store.
type Options struct {
	// SegmentSize is the size at which the active segment is closed.
	SegmentSize int64
	// InlineMax is the largest value also kept in memory.
	InlineMax int
	// FSync syncs every write before it returns (survives power loss, not
	// only a process crash).
	FSync bool
	// FailOnDamage makes Open fail with ErrCorrupt on a damaged frame
	// that valid frames follow, instead of skipping it.
	FailOnDamage bool

	// files replaces the file operations that can run out of space, in tests.
	files *fileOps
	// step replaces compactStep, in tests.
	step compactBudget
}

// fileOps are the file operations a full disk makes fail.
type fileOps struct {
	writeAt func(f *os.File, b []byte, off int64) (int, error)
	// allocate reserves size bytes of disk for f without changing its size;
	// errors.ErrUnsupported where the file system cannot.
	allocate func(f *os.File, size int64) error
	// remove deletes the file at path; f is its (closed) handle.
	remove func(f *os.File, path string) error
}

var osFiles = fileOps{
	writeAt:  func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) },
	allocate: allocate,
	remove:   func(_ *os.File, path string) error { return os.Remove(path) },
}

// syncDirectory makes dir's entries durable; replaced in tests.
var syncDirectory = syncDir

// Stats are running totals, for self-metrics.
type Stats struct {
	// BytesWritten counts frame bytes appended, compaction copies included.
	BytesWritten int64
	// BytesCopied counts live frame bytes compaction re-appended.
	BytesCopied int64
	// TornBytes counts bytes after the last valid frame of the newest
	// segment, found and discarded when the store was opened.
	TornBytes int64
	// SkippedBytes counts the bytes of damaged frames skipped when the
	// store was opened (valid frames followed them; see Skipped).
	SkippedBytes int64
	// SegmentsRemoved counts segment files removed by compaction.
	SegmentsRemoved int64
	// MaintenanceErrors counts failed segment rotations and compactions
	// (see LastMaintenanceError); writes go on in the current segment.
	MaintenanceErrors int64
}

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("journal storage client is closed")

// ErrCorrupt is returned by Open when a segment other than the newest does
// not end in a valid frame: only the newest can end in an unfinished write,
// so this is damage (a truncated copy, or a power loss with fsync off) of
// unknown extent. With Options.FailOnDamage it is also returned for a
// damaged frame that valid frames follow.
var ErrCorrupt = errors.New("journal segment is corrupt")

// SkippedRegion is a damaged part of a segment that Open skipped: the
// operations of the frames in it are lost.
type SkippedRegion struct {
	// Path is the segment file.
	Path string
	// Offset is where the damaged frame starts in the file.
	Offset int64
	// Bytes is its length, up to the next valid frame.
	Bytes int64
}

type segment struct {
	id   uint64
	f    *os.File
	size int64 // bytes of valid frames
	live int64 // bytes of the entries the index still points at
	// gone: its live values were moved and its file closed, but removing
	// the file failed; compaction retries before removing any later one.
	gone bool
}

// entry is where a key's current value is.
type entry struct {
	seg    *segment
	off    int64  // value's offset in the segment file
	n      int    // value length
	inline []byte // the value, when at most InlineMax bytes
}

// weight is what an entry counts towards its segment's live bytes: the
// bytes of its set operation in the frame.
func weight(key string, n int) int64 {
	return int64(1 + uvarintLen(len(key)) + len(key) + uvarintLen(n) + n)
}

func uvarintLen(x int) int { return (bits.Len64(uint64(x)|1) + 6) / 7 }

// Store is one client's key-value log in its own directory.
type Store struct {
	dir   string
	opts  Options
	files *fileOps

	mu    sync.Mutex
	index map[string]entry
	segs  []*segment // oldest first; the last one is active
	frame []byte
	// valueOffsets holds, for the frame being written, each set's value
	// offset in the payload.
	valueOffsets []int
	lock         *os.File
	stats        Stats
	skipped      []SkippedRegion // found by Open
	closed       bool
	brokenBy     error // set when a failed write could not be undone
	// maintenanceErr is the last rotation or compaction failure.
	maintenanceErr error

	spare            *os.File // the spare segment file, once created
	spareReady       bool     // spare has spareBytes allocated
	spareUnsupported bool     // the file system cannot preallocate
	compacting       bool
	// compactBefore: closed segments with a lower id are due for
	// compaction; 0 when none is in progress.
	compactBefore uint64
	// moving is the segment whose live values compaction is copying;
	// movingKeys the keys it held when that began, not yet looked at.
	moving     *segment
	movingKeys []string
}

// MkdirAll creates dir and its missing parents with perm. With syncParents,
// the directory holding each new one is synced, so the new entries survive
// a power loss.
func MkdirAll(dir string, perm os.FileMode, syncParents bool) error {
	dir = filepath.Clean(dir)
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	if syncParents {
		for _, d := range created {
			if err := syncDirectory(filepath.Dir(d)); err != nil {
				return fmt.Errorf("sync %s: %w", filepath.Dir(d), err)
			}
		}
	}
	return nil
}

// Open opens (creating if needed) the store in dir, replaying its segments.
// A bad frame in a segment other than the newest fails with ErrCorrupt.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentSize <= 0 {
		return nil, errors.New("segment size must be positive")
	}
	if err := MkdirAll(dir, 0o700, opts.FSync); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	files := opts.files
	if files == nil {
		files = &osFiles
	}
	s := &Store{dir: dir, opts: opts, files: files, index: map[string]entry{}, lock: lock}
	if err := s.load(); err != nil {
		_ = s.closeFiles()
		return nil, err
	}
	s.startCompaction()
	s.maintain(s.compact(unbounded))
	s.refillSpare()
	return s, nil
}

// load replays every segment in order and opens the newest for appends.
func (s *Store) load() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.dir, err)
	}
	var ids []uint64
	for _, d := range names {
		name := d.Name()
		if !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 16, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		seg, err := s.replay(id, i == len(ids)-1)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
	}
	if len(s.segs) == 0 {
		return s.rotate()
	}
	return nil
}

func (s *Store) segmentPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", id, segmentSuffix))
}

// replay applies one segment's frames to the index. A frame that fails its
// check but is followed by valid frames is damage: it is skipped (its
// operations are lost), recorded and counted, and replay goes on at the
// next valid frame. Where no valid frame follows, the rest is a torn tail:
// in the newest segment (the only one appended to) an unfinished write,
// counted and cut off so new frames follow the last valid one; in an older
// segment corruption.
func (s *Store) replay(id uint64, newest bool) (*segment, error) {
	path := s.segmentPath(id)
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	fail := func(err error) (*segment, error) {
		f.Close()
		return nil, err
	}
	seg := &segment{id: id, f: f}
	size := st.Size()
	for {
		end, err := s.replayFrames(seg, seg.size, size)
		if err != nil {
			return fail(fmt.Errorf("read segment %s: %w", path, err))
		}
		seg.size = end
		if end == size {
			break
		}
		next, err := s.resync(f, end, size)
		if err != nil {
			return fail(fmt.Errorf("read segment %s: %w", path, err))
		}
		if next < 0 {
			break // no valid frame follows: a torn tail
		}
		if s.opts.FailOnDamage {
			return fail(fmt.Errorf("%w: %s has a damaged frame at byte %d (%d bytes before the next valid frame)", ErrCorrupt, path, end, next-end))
		}
		s.skipped = append(s.skipped, SkippedRegion{Path: path, Offset: end, Bytes: next - end})
		s.stats.SkippedBytes += next - end
		seg.size = next // the skipped bytes count as dead: compaction reclaims them
	}
	if torn := size - seg.size; torn > 0 {
		if !newest {
			return fail(fmt.Errorf("%w: %s has a bad frame at byte %d of %d", ErrCorrupt, path, seg.size, size))
		}
		s.stats.TornBytes += torn
		if err := f.Truncate(seg.size); err != nil {
			return fail(fmt.Errorf("cut torn tail of %s: %w", path, err))
		}
	}
	return seg, nil
}

// replayFrames applies the frames of seg from offset from on, up to the
// first one that fails its check, and returns where the valid ones end.
func (s *Store) replayFrames(seg *segment, from, size int64) (int64, error) {
	frames := crcframe.NewReader(bufio.NewReaderSize(io.NewSectionReader(seg.f, from, size-from), 1<<20), size-from)
	end := from
	for frames.Next() {
		payload := frames.Payload()
		if len(payload) == 0 {
			// Never written by a store (a batch holds at least one set
			// or delete): an all-zero header, i.e. a preallocated or
			// extended region the write never reached.
			break
		}
		start := from + frames.Consumed() - int64(len(payload))
		if err := s.applyFrame(seg, start, payload); err != nil {
			// A valid CRC over operations that do not parse: written by
			// something else. Stop here as for a torn frame.
			break
		}
		end = from + frames.Consumed()
	}
	return end, frames.Err()
}

// minPayload is the smallest payload a store writes: a delete of the empty
// key.
const minPayload = 2

// resync looks for the first offset after bad, the start of a frame that
// fails its check, where a valid frame starts that is followed by another
// valid frame or by the end of the data; -1 when there is none (a torn
// tail). Requiring two valid frames in a row (or one ending exactly at the
// end) keeps bytes inside a damaged frame that happen to look like a frame
// from being taken for one. The damaged frame's own length is tried first:
// when only its payload was damaged, that is where the next frame is.
func (s *Store) resync(f *os.File, bad, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	if _, err := f.ReadAt(buf[:crcframe.HeaderSize], bad); err == nil {
		if next := bad + crcframe.HeaderSize + int64(binary.LittleEndian.Uint32(buf)); next > bad+crcframe.HeaderSize && next < size {
			ok, err := s.validRun(f, next, size, buf)
			if err != nil || ok {
				return next, err
			}
		}
	} else if !errors.Is(err, io.EOF) {
		return -1, err
	}
	window := make([]byte, 64<<10)
	for pos := bad + 1; pos+crcframe.HeaderSize+minPayload <= size; {
		n, err := f.ReadAt(window, pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, err
		}
		// Offsets whose header and first payload byte are in the window.
		last := n - crcframe.HeaderSize - 1
		for i := 0; i <= last; i++ {
			plen := int64(binary.LittleEndian.Uint32(window[i:]))
			at := pos + int64(i)
			if plen < minPayload || plen > size-at-crcframe.HeaderSize {
				continue
			}
			if kind := window[i+crcframe.HeaderSize]; kind != opSet && kind != opDelete {
				continue
			}
			ok, err := s.validRun(f, at, size, buf)
			if err != nil {
				return -1, err
			}
			if ok {
				return at, nil
			}
		}
		pos += int64(last + 1)
	}
	return -1, nil
}

// validRun reports whether a valid frame starts at off and is followed by
// another valid frame or ends exactly at size.
func (s *Store) validRun(f *os.File, off, size int64, buf []byte) (bool, error) {
	// Both headers first: checking a CRC reads the whole payload, and in
	// high-entropy bytes (a torn compressed value) one offset in ~16k has a
	// plausible header, one in ~2^28 two in a row.
	end, ok, err := plausibleHeader(f, off, size, buf)
	if err != nil || !ok {
		return false, err
	}
	if end != size {
		if _, ok, err := plausibleHeader(f, end, size, buf); err != nil || !ok {
			return false, err
		}
	}
	end, ok, err = validFrame(f, off, size, buf)
	if err != nil || !ok || end == size {
		return ok, err
	}
	_, ok, err = validFrame(f, end, size, buf)
	return ok, err
}

// plausibleHeader reports whether the header at off could start a frame a
// store wrote (a payload of at least minPayload bytes within size, starting
// with an operation kind), and where that frame would end.
func plausibleHeader(f *os.File, off, size int64, buf []byte) (int64, bool, error) {
	if size-off < crcframe.HeaderSize+minPayload {
		return 0, false, nil
	}
	head := buf[:crcframe.HeaderSize+1]
	if _, err := f.ReadAt(head, off); err != nil {
		return 0, false, err
	}
	n := int64(binary.LittleEndian.Uint32(head))
	if n < minPayload || n > size-off-crcframe.HeaderSize || (head[crcframe.HeaderSize] != opSet && head[crcframe.HeaderSize] != opDelete) {
		return 0, false, nil
	}
	return off + crcframe.HeaderSize + n, true, nil
}

// validFrame reports whether a frame a store could have written starts at
// off (non-empty, matching CRC, operations that parse) and where it ends.
func validFrame(f *os.File, off, size int64, buf []byte) (int64, bool, error) {
	n, ok, err := crcframe.CheckAt(f, off, size, buf)
	if err != nil || !ok || n < minPayload {
		return 0, false, err
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, off+crcframe.HeaderSize); err != nil {
		return 0, false, err
	}
	if walkOps(payload, func(byte, string, int, int) {}) != nil {
		return 0, false, nil
	}
	return off + crcframe.HeaderSize + n, true, nil
}

// applyFrame applies the operations of a frame whose payload starts at
// offset base of seg. The whole payload is parsed before anything is
// applied, so a malformed frame changes nothing.
func (s *Store) applyFrame(seg *segment, base int64, payload []byte) error {
	if err := walkOps(payload, func(byte, string, int, int) {}); err != nil {
		return err
	}
	return walkOps(payload, func(kind byte, key string, voff, vlen int) {
		if kind == opDelete {
			s.remove(key)
			return
		}
		s.setAt(key, payload[voff:voff+vlen], seg, base+int64(voff))
	})
}

// walkOps calls fn for every operation of payload with the value's offset
// and length in payload (0, 0 for a delete).
func walkOps(payload []byte, fn func(kind byte, key string, voff, vlen int)) error {
	p := 0
	for p < len(payload) {
		kind := payload[p]
		p++
		if kind != opSet && kind != opDelete {
			return fmt.Errorf("unknown operation %d", kind)
		}
		klen, n := binary.Uvarint(payload[p:])
		if n <= 0 || klen > uint64(len(payload)-p-n) {
			return errors.New("bad key length")
		}
		p += n
		key := string(payload[p : p+int(klen)])
		p += int(klen)
		if kind == opDelete {
			fn(kind, key, 0, 0)
			continue
		}
		vlen, n := binary.Uvarint(payload[p:])
		if n <= 0 || vlen > uint64(len(payload)-p-n) {
			return errors.New("bad value length")
		}
		p += n
		fn(kind, key, p, int(vlen))
		p += int(vlen)
	}
	return nil
}

func (s *Store) remove(key string) {
	if old, ok := s.index[key]; ok {
		old.seg.live -= weight(key, old.n)
		delete(s.index, key)
	}
}

func (s *Store) put(key string, e entry) {
	if old, ok := s.index[key]; ok {
		old.seg.live -= weight(key, old.n)
	}
	e.seg.live += weight(key, e.n)
	s.index[key] = e
}

func (s *Store) active() *segment { return s.segs[len(s.segs)-1] }

// rotate starts a new active segment: the spare when it is ready (its disk
// space is already held), else a new file.
func (s *Store) rotate() error {
	var id uint64 = 1
	if len(s.segs) > 0 {
		id = s.active().id + 1
	}
	path := s.segmentPath(id)
	var f *os.File
	if s.spareReady {
		if err := os.Rename(filepath.Join(s.dir, spareName), path); err != nil {
			return fmt.Errorf("create segment %s: %w", path, err)
		}
		f, s.spare, s.spareReady = s.spare, nil, false
	} else {
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
	}
	// The file exists now: it is the active segment even if the sync below
	// fails, so the next rotation does not trip over it.
	s.segs = append(s.segs, &segment{id: id, f: f})
	if s.opts.FSync {
		if err := syncDirectory(s.dir); err != nil {
			return fmt.Errorf("sync %s: %w", s.dir, err)
		}
	}
	s.refillSpare()
	return nil
}

// maxSpareBytes caps the space held for the spare segment. Draining needs
// room for deletes (tens of bytes per queue item) until compaction frees the
// segments they empty, not a whole segment: with 32 MiB segments, three
// clients per agent held 96 MiB of every node's disk for nothing.
const maxSpareBytes = 4 << 20

// spareBytes is the space held for the spare segment.
func (s *Store) spareBytes() int64 { return min(s.opts.SegmentSize, maxSpareBytes) }

// refillSpare makes sure the spare segment's space is held. Where the
// disk is too full, the spare stays unready and batches that add data are
// refused until it can be allocated.
func (s *Store) refillSpare() {
	if s.spareReady || s.spareUnsupported {
		return
	}
	if s.spare == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, spareName), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			if !isFull(err) {
				s.noSpare(err)
			}
			return
		}
		s.spare = f
	}
	switch err := s.files.allocate(s.spare, s.spareBytes()); {
	case err == nil:
		s.spareReady = true
	case isFull(err):
	default:
		s.noSpare(err)
	}
}

// noSpare gives up on the spare: writes then go on without space held back.
func (s *Store) noSpare(err error) {
	s.spareUnsupported = true
	if s.spare != nil {
		s.spare.Close()
		s.spare = nil
	}
	_ = os.Remove(filepath.Join(s.dir, spareName))
	if !errors.Is(err, errors.ErrUnsupported) {
		s.maintain(fmt.Errorf("preallocate spare segment: %w", err))
	}
}

// lowOnSpace: the disk could not hold a spare segment, so only the space
// already held is left, and it is kept for changes that let a queue drain.
func (s *Store) lowOnSpace() bool { return !s.spareReady && !s.spareUnsupported }

func isFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Batch applies ops in order as one frame: gets see the ops before them.
// Gets are read before anything is written, so a failed read fails the
// batch with nothing written or applied; once the frame is written, the
// whole batch is applied.
func (s *Store) Batch(ops []*storage.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.brokenBy != nil {
		return s.brokenBy
	}
	writes := false
	for _, op := range ops {
		switch op.Type {
		case storage.Set, storage.Delete:
			writes = true
		case storage.Get:
		default:
			return fmt.Errorf("unknown operation type %d", op.Type)
		}
	}
	if !writes {
		return s.gets(ops)
	}
	for i, op := range ops {
		if op.Type == storage.Get {
			v, err := s.getAfter(ops[:i], op.Key)
			if err != nil {
				clearGets(ops)
				return err
			}
			op.Value = v
		}
	}
	if s.lowOnSpace() && s.growth(ops) > drainSlack {
		s.refillSpare() // space may have been freed meanwhile
		if s.lowOnSpace() {
			clearGets(ops)
			return fmt.Errorf("journal storage %s: %w: no room to hold a spare segment of %d bytes; writes that add data are refused until deletes and compaction free space",
				s.dir, storage.ErrStorageFull, s.spareBytes())
		}
	}
	seg, base, err := s.writeFrame(ops)
	if err != nil {
		clearGets(ops)
		return err
	}
	sets := 0
	for _, op := range ops {
		switch op.Type {
		case storage.Delete:
			s.remove(op.Key)
		case storage.Set:
			s.setAt(op.Key, op.Value, seg, base+int64(s.valueOffsets[sets]))
			sets++
		}
	}
	// The batch is written and applied whatever happens here: a failed
	// rotation leaves the active segment growing, a failed compaction
	// leaves old segments on disk, and both are tried again next time.
	if s.active().size >= s.opts.SegmentSize {
		if err := s.rotate(); err != nil {
			s.maintain(err)
		} else {
			s.startCompaction()
		}
	}
	switch {
	case s.lowOnSpace():
		// Free whole segments as soon as the drain makes them dead.
		s.startCompaction()
		s.maintain(s.compact(unbounded))
	case s.compactBefore != 0:
		// One bounded step: other callers wait for it, not for copying
		// whole segments. It copies at least twice what this write added,
		// so compaction keeps pace with writes larger than the step.
		step := s.compactStep()
		step.bytes = max(step.bytes, 2*int64(len(s.frame)))
		s.maintain(s.compact(step))
	}
	return nil
}

// getAfter returns key's value as the batch ops before it leave it.
func (s *Store) getAfter(before []*storage.Operation, key string) ([]byte, error) {
	for i := len(before) - 1; i >= 0; i-- {
		op := before[i]
		if op.Key != key {
			continue
		}
		switch op.Type {
		case storage.Set:
			return append([]byte{}, op.Value...), nil // non-nil even when empty
		case storage.Delete:
			return nil, nil
		}
	}
	return s.get(key)
}

func clearGets(ops []*storage.Operation) {
	for _, op := range ops {
		if op.Type == storage.Get {
			op.Value = nil
		}
	}
}

// drainSlack is how much a batch may add to the live data while the store
// is low on space: enough for a queue's read, which records one more
// dispatched item in its metadata, not for a new item.
const drainSlack = 128

// growth is about how many bytes ops add to the live data (replaced and
// deleted values counted as the index holds them now).
func (s *Store) growth(ops []*storage.Operation) int64 {
	var g int64
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			g += weight(op.Key, len(op.Value))
		case storage.Delete:
		default:
			continue
		}
		if e, ok := s.index[op.Key]; ok {
			g -= weight(op.Key, e.n)
		}
	}
	return g
}

func (s *Store) compactStep() compactBudget {
	if s.opts.step != (compactBudget{}) {
		return s.opts.step
	}
	return compactStep
}

// maintain records a rotation or compaction failure.
func (s *Store) maintain(err error) {
	if err != nil {
		s.stats.MaintenanceErrors++
		s.maintenanceErr = err
	}
}

// LastMaintenanceError returns the last rotation or compaction failure.
func (s *Store) LastMaintenanceError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maintenanceErr
}

// writeFrame writes the sets and deletes of ops as one frame to the active
// segment, leaving each set's value offset in the payload in valueOffsets.
// It returns the segment and the payload's offset in it.
func (s *Store) writeFrame(ops []*storage.Operation) (*segment, int64, error) {
	frame := crcframe.Begin(s.frame[:0])
	s.valueOffsets = s.valueOffsets[:0]
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			frame = appendKey(frame, opSet, op.Key)
			frame = binary.AppendUvarint(frame, uint64(len(op.Value)))
			s.valueOffsets = append(s.valueOffsets, len(frame)-crcframe.HeaderSize)
			frame = append(frame, op.Value...)
		case storage.Delete:
			frame = appendKey(frame, opDelete, op.Key)
		}
	}
	s.frame = frame
	if len(frame)-crcframe.HeaderSize > crcframe.MaxPayload {
		return nil, 0, crcframe.ErrTooLarge
	}
	crcframe.Seal(frame)
	seg := s.active()
	base := seg.size + crcframe.HeaderSize
	err := s.write(seg, frame)
	if err == nil || !errors.Is(err, storage.ErrStorageFull) || s.brokenBy != nil {
		return seg, base, err
	}
	// Disk full: make room once and retry, so deletes can still drain a
	// full store.
	s.makeRoom()
	seg = s.active()
	base = seg.size + crcframe.HeaderSize
	if err := s.write(seg, frame); err != nil {
		return nil, 0, err
	}
	return seg, base, nil
}

// makeRoom moves writes to the spare segment, whose space is held, or
// failing that compacts to free some.
func (s *Store) makeRoom() {
	if s.spareReady {
		s.maintain(s.rotate())
		return
	}
	if !s.compacting {
		s.startCompaction()
		s.maintain(s.compact(unbounded))
	}
}

// setAt points key at a value written at offset off of seg.
func (s *Store) setAt(key string, value []byte, seg *segment, off int64) {
	e := entry{seg: seg, off: off, n: len(value)}
	if e.n <= s.opts.InlineMax {
		e.inline = append([]byte{}, value...) // non-nil even when empty
	}
	s.put(key, e)
}

func (s *Store) gets(ops []*storage.Operation) error {
	for _, op := range ops {
		v, err := s.get(op.Key)
		if err != nil {
			clearGets(ops)
			return err
		}
		op.Value = v
	}
	return nil
}

func appendKey(dst []byte, kind byte, key string) []byte {
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// write appends frame to seg with one write call. A failed write is undone
// by cutting the file back, so later frames never follow a partial one; if
// that fails too the store refuses further writes.
func (s *Store) write(seg *segment, frame []byte) error {
	n, err := s.files.writeAt(seg.f, frame, seg.size)
	if err == nil && s.opts.FSync {
		err = seg.f.Sync()
	}
	if err != nil {
		if n > 0 {
			if terr := seg.f.Truncate(seg.size); terr != nil {
				s.brokenBy = fmt.Errorf("journal storage %s: a failed write could not be undone (%v): %w", s.dir, terr, err)
			}
		}
		if isFull(err) {
			return fmt.Errorf("journal storage %s: %w: %w", s.dir, storage.ErrStorageFull, err)
		}
		return fmt.Errorf("journal storage %s: %w", s.dir, err)
	}
	seg.size += int64(len(frame))
	s.stats.BytesWritten += int64(len(frame))
	return nil
}

// get returns a copy of key's value, nil if absent.
func (s *Store) get(key string) ([]byte, error) {
	e, ok := s.index[key]
	if !ok {
		return nil, nil
	}
	if e.inline != nil {
		return slices.Clone(e.inline), nil
	}
	v := make([]byte, e.n)
	if _, err := e.seg.f.ReadAt(v, e.off); err != nil {
		return nil, fmt.Errorf("journal storage %s: read value: %w", s.dir, err)
	}
	return v, nil
}

// compactStep bounds the copying one write does for a compaction in
// progress, so the lock is never held while a whole segment's live values
// are copied: the rest is done by the next writes.
var compactStep = compactBudget{bytes: 256 << 10, keys: 1024}

// unbounded is the budget of a compaction that must finish now (at open, or
// to free space on a full disk).
var unbounded = compactBudget{bytes: math.MaxInt64, keys: math.MaxInt}

// compactBudget is how much copying one compact call may do: bytes of
// copies and keys looked at.
type compactBudget struct {
	bytes int64
	keys  int
}

// startCompaction makes every closed segment a candidate for compaction
// (done by compact, now or spread over the next writes).
func (s *Store) startCompaction() { s.compactBefore = s.active().id }

// compact removes oldest closed segments with an id below compactBefore,
// re-appending their live values to the active segment first, while the
// oldest is less than half live or the closed segments hold more dead bytes
// than max(segment size, live bytes). The second rule reclaims dead
// segments behind a mostly live one; it copies at most the live data to
// free at least as many dead bytes. Bounding the segments by compactBefore
// keeps copies made by this compaction from being copied again. It returns
// early once it has used budget; the next call goes on from there. Each
// copy is a set of a key's current value appended after everything
// written before it, so stopping anywhere (or crashing) loses nothing, and
// a segment is removed only once no key points into it.
func (s *Store) compact(budget compactBudget) error {
	s.compacting = true
	removed := false
	defer func() {
		s.compacting = false
		if removed {
			s.refillSpare()
		}
	}()
	err := func() error {
		for s.compactBefore != 0 {
			if len(s.segs) < 2 || s.segs[0].id >= s.compactBefore {
				s.compactBefore = 0
				return nil
			}
			old := s.segs[0]
			if s.moving != old && !s.worthRemoving(old) {
				s.compactBefore = 0
				return nil
			}
			if !old.gone {
				done, err := s.moveLive(old, &budget)
				if err != nil || !done {
					return err
				}
				old.f.Close()
				old.gone = true
				s.moving, s.movingKeys = nil, nil
			}
			if err := s.files.remove(old.f, s.segmentPath(old.id)); err != nil && !errors.Is(err, os.ErrNotExist) {
				// It stays first in segs, so no later segment (which may hold
				// a delete of one of its values) is removed before it.
				return fmt.Errorf("remove segment: %w", err)
			}
			s.segs = s.segs[1:]
			s.stats.SegmentsRemoved++
			removed = true
			if s.opts.FSync {
				// A removed segment that came back after a power loss could
				// bring back a value deleted in a segment removed after it.
				if err := syncDirectory(s.dir); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	if err != nil {
		// Tried again at the next rotation, not at every write.
		s.compactBefore = 0
	}
	return err
}

// worthRemoving applies compact's rules to the oldest segment.
func (s *Store) worthRemoving(old *segment) bool {
	if old.gone || old.size == 0 || old.live*2 < old.size {
		return true
	}
	var dead, live int64
	for i, seg := range s.segs {
		live += seg.live
		if i < len(s.segs)-1 {
			dead += max(0, seg.size-seg.live)
		}
	}
	return dead > max(s.opts.SegmentSize, live)
}

// moveLive re-appends the live values of old to the active segment, in
// frames of at most the segment size, until budget is used up; done once
// no key points into old. The keys old held are listed when it starts; a
// key changed since then no longer points into it and is passed over.
func (s *Store) moveLive(old *segment, budget *compactBudget) (done bool, err error) {
	if s.moving != old {
		s.moving, s.movingKeys = old, s.keysIn(old)
	}
	for {
		if len(s.movingKeys) == 0 {
			if old.live == 0 {
				return true, nil
			}
			if s.movingKeys = s.keysIn(old); len(s.movingKeys) == 0 {
				return true, nil
			}
		}
		if budget.bytes <= 0 || budget.keys <= 0 {
			return false, nil
		}
		if s.active().size >= s.opts.SegmentSize {
			if err := s.rotate(); err != nil {
				return false, err
			}
		}
		var batch []*storage.Operation
		var size int64
		n := 0
		for n < len(s.movingKeys) && n < budget.keys && size < min(s.opts.SegmentSize, budget.bytes) {
			k := s.movingKeys[n]
			if e, ok := s.index[k]; ok && e.seg == old {
				v, err := s.get(k)
				if err != nil {
					return false, err
				}
				batch = append(batch, storage.SetOperation(k, v))
				size += weight(k, len(v))
			}
			n++
		}
		if len(batch) > 0 {
			before := s.stats.BytesWritten
			err := s.writeCopies(batch)
			s.stats.BytesCopied += s.stats.BytesWritten - before
			if err != nil {
				return false, err
			}
		}
		s.movingKeys = s.movingKeys[n:]
		budget.bytes -= size
		budget.keys -= n
	}
}

// keysIn lists the keys whose values are in seg, sorted (a deterministic
// file, for tests and debugging).
func (s *Store) keysIn(seg *segment) []string {
	var keys []string
	for k, e := range s.index {
		if e.seg == seg {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// writeCopies writes sets to the active segment and points the index at
// them (Batch without rotation, which compaction drives itself).
func (s *Store) writeCopies(ops []*storage.Operation) error {
	seg, base, err := s.writeFrame(ops)
	if err != nil {
		return err
	}
	for i, op := range ops {
		s.setAt(op.Key, op.Value, seg, base+int64(s.valueOffsets[i]))
	}
	return nil
}

// Skipped returns the damaged regions Open skipped.
func (s *Store) Skipped() []SkippedRegion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.skipped)
}

// Stats returns the running totals.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close closes the files; later operations return ErrClosed. Idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, seg := range s.segs {
		if !seg.gone {
			errs = append(errs, seg.f.Close())
		}
	}
	s.segs = nil
	s.index = nil
	if s.spare != nil {
		// Kept on disk: the next open reuses it.
		errs = append(errs, s.spare.Close())
		s.spare, s.spareReady = nil, false
	}
	if s.lock != nil {
		errs = append(errs, unlockDir(s.lock))
		s.lock = nil
	}
	return errors.Join(errs...)
}
