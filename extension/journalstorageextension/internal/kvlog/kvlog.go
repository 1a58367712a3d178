// Package kvlog is journal_storage's key-value store: an append-only log of
// checksummed frames (internal/crcframe) in numbered segment files, with the
// index in memory.
//
// Each Batch of sets and deletes is one frame, written with one write call
// (and one fsync when enabled): it is applied after a crash whole or not at
// all. Small values are also kept in memory; larger ones are read back from
// the segment. The active segment is closed once it reaches the segment
// size; the oldest closed segment is then removed as soon as less than half
// of it is live, after its live values were appended to the active segment.
// Only the oldest segment is ever removed, so a delete in a later segment
// can never be lost while an older segment still holds the value it deleted.
//
// Frame payload: a sequence of operations, each [u8 kind][uvarint key
// length][key] followed, for a set, by [uvarint value length][value].
package kvlog // import "github.com/sluicelogs/sluice/extension/journalstorageextension/internal/kvlog"

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
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

const segmentSuffix = ".seg"

// Options tune a Store.
type Options struct {
	// SegmentSize is the size at which the active segment is closed.
	SegmentSize int64
	// InlineMax is the largest value also kept in memory.
	InlineMax int
	// FSync syncs every write before it returns (survives power loss, not
	// only a process crash).
	FSync bool
}

// Stats are running totals, for self-metrics.
type Stats struct {
	// BytesWritten counts frame bytes appended, compaction copies included.
	BytesWritten int64
	// BytesCopied counts live frame bytes compaction re-appended.
	BytesCopied int64
	// TornBytes counts bytes after the last valid frame of a segment, found
	// and discarded when the store was opened.
	TornBytes int64
	// SegmentsRemoved counts segment files removed by compaction.
	SegmentsRemoved int64
	// MaintenanceErrors counts failed segment rotations and compactions
	// (see LastMaintenanceError); writes go on in the current segment.
	MaintenanceErrors int64
}

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("journal storage client is closed")

type segment struct {
	id   uint64
	f    *os.File
	size int64 // bytes of valid frames
	live int64 // bytes of the entries the index still points at
}

// entry is where a key's current value is.
type entry struct {
	seg    *segment
	off    int64  // value's offset in the segment file
	n      int    // value length
	inline []byte // the value, when at most InlineMax bytes
}

// weight is what an entry counts towards its segment's live bytes: its
// operation's share of the frame.
func weight(key string, n int) int64 {
	return int64(1 + 2*binary.MaxVarintLen32 + len(key) + n)
}

// Store is one client's key-value log in its own directory.
type Store struct {
	dir  string
	opts Options

	mu    sync.Mutex
	index map[string]entry
	segs  []*segment // oldest first; the last one is active
	frame []byte
	// valueOffsets holds, for the frame being written, each set's value
	// offset in the payload.
	valueOffsets []int
	lock         *os.File
	stats        Stats
	closed       bool
	brokenBy     error // set when a failed write could not be undone
	// maintenanceErr is the last rotation or compaction failure.
	maintenanceErr error
}

// Open opens (creating if needed) the store in dir, replaying its segments.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentSize <= 0 {
		return nil, errors.New("segment size must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, index: map[string]entry{}, lock: lock}
	if err := s.load(); err != nil {
		_ = s.closeFiles()
		return nil, err
	}
	s.maintain(s.compact())
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

// replay applies one segment's frames to the index. A torn tail is counted
// and, in the newest segment (the only one appended to), cut off so new
// frames follow the last valid one.
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
	seg := &segment{id: id, f: f}
	frames := crcframe.NewReader(bufio.NewReaderSize(f, 1<<20), st.Size())
	for frames.Next() {
		start := frames.Consumed() - int64(len(frames.Payload())) // payload offset
		if err := s.applyFrame(seg, start, frames.Payload()); err != nil {
			// A valid CRC over operations that do not parse: written by
			// something else. Stop here as for a torn frame.
			break
		}
		seg.size = frames.Consumed()
	}
	if err := frames.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("read segment %s: %w", path, err)
	}
	if torn := st.Size() - seg.size; torn > 0 {
		s.stats.TornBytes += torn
		if newest {
			if err := f.Truncate(seg.size); err != nil {
				f.Close()
				return nil, fmt.Errorf("cut torn tail of %s: %w", path, err)
			}
		}
	}
	return seg, nil
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

// rotate starts a new active segment.
func (s *Store) rotate() error {
	var id uint64 = 1
	if len(s.segs) > 0 {
		id = s.active().id + 1
	}
	f, err := os.OpenFile(s.segmentPath(id), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if s.opts.FSync {
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return err
		}
	}
	s.segs = append(s.segs, &segment{id: id, f: f})
	return nil
}

// Batch applies ops in order: sets and deletes are written as one frame
// first, then every op is applied, gets seeing the ops before them.
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
	seg, base, err := s.writeFrame(ops)
	if err != nil {
		return err
	}
	// Apply in order; a get reads the index as left by the ops before it.
	sets := 0
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			if op.Value, err = s.get(op.Key); err != nil {
				return err
			}
		case storage.Delete:
			s.remove(op.Key)
		case storage.Set:
			s.setAt(op.Key, op.Value, seg, base+int64(s.valueOffsets[sets]))
			sets++
		}
	}
	if seg.size >= s.opts.SegmentSize {
		// The batch is written and applied whatever happens here: a failed
		// rotation leaves the active segment growing, a failed compaction
		// leaves old segments on disk, and both are tried again next time.
		if err := s.rotate(); err != nil {
			s.maintain(err)
		} else {
			s.maintain(s.compact())
		}
	}
	return nil
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
	if err := s.write(seg, frame); err != nil {
		return nil, 0, err
	}
	return seg, base, nil
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
	n, err := seg.f.WriteAt(frame, seg.size)
	if err == nil && s.opts.FSync {
		err = seg.f.Sync()
	}
	if err != nil {
		if n > 0 {
			if terr := seg.f.Truncate(seg.size); terr != nil {
				s.brokenBy = fmt.Errorf("journal storage %s: a failed write could not be undone (%v): %w", s.dir, terr, err)
			}
		}
		if errors.Is(err, syscall.ENOSPC) {
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

// compact removes the oldest closed segments while less than half of each
// is live, re-appending their live values to the active segment first.
func (s *Store) compact() error {
	for len(s.segs) > 1 {
		old := s.segs[0]
		if old.live*2 >= old.size && old.size > 0 {
			return nil
		}
		if err := s.moveLive(old); err != nil {
			return err
		}
		name := old.f.Name()
		old.f.Close()
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			// Its live values are already copied: reading it again at the
			// next open only replays older versions.
			return fmt.Errorf("remove segment: %w", err)
		}
		s.segs = s.segs[1:]
		s.stats.SegmentsRemoved++
		if s.opts.FSync {
			// A removed segment that came back after a power loss could
			// bring back a value deleted in a segment removed after it.
			if err := syncDir(s.dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveLive re-appends the live values of old to the active segment, in
// frames of at most the segment size.
func (s *Store) moveLive(old *segment) error {
	if old.live == 0 {
		return nil
	}
	var keys []string
	for k, e := range s.index {
		if e.seg == old {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // a deterministic file, for tests and debugging
	var batch []*storage.Operation
	var size int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		before := s.stats.BytesWritten
		err := s.writeCopies(batch)
		s.stats.BytesCopied += s.stats.BytesWritten - before
		batch, size = batch[:0], 0
		return err
	}
	for _, k := range keys {
		v, err := s.get(k)
		if err != nil {
			return err
		}
		batch = append(batch, storage.SetOperation(k, v))
		size += weight(k, len(v))
		if size >= s.opts.SegmentSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
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
		errs = append(errs, seg.f.Close())
	}
	s.segs = nil
	s.index = nil
	if s.lock != nil {
		errs = append(errs, unlockDir(s.lock))
		s.lock = nil
	}
	return errors.Join(errs...)
}
