package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/container"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/fingerprint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/multiline"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/reader"
)

const (
	// knownTTL expires checkpoints of files not seen for this long.
	knownTTL = 7 * 24 * time.Hour
	// minKnownCap is the least number of closed-file checkpoints kept.
	minKnownCap = 1024
	// maxWarnedPaths bounds the set of unreadable paths already warned about.
	maxWarnedPaths = 4096
	// maxVerified bounds the set of closed files verified as unchanged.
	maxVerified = 16384
)

var (
	rotationMoved     = metric.WithAttributeSet(attribute.NewSet(attribute.String("rotation", "moved")))
	rotationTruncated = metric.WithAttributeSet(attribute.NewSet(attribute.String("rotation", "truncated")))
	rotationRemoved   = metric.WithAttributeSet(attribute.NewSet(attribute.String("rotation", "removed")))
)

// tailer finds, reads and checkpoints files. All of its methods except the
// lag snapshot run on one goroutine, so it needs no locks on the hot path:
// reading, delivering and committing happen in sequence, which is what keeps
// acknowledgements in per-file order and the data in flight bounded by one
// batch.
type tailer struct {
	cfg    *Config
	logger *zap.Logger
	next   consumer.Logs
	tb     *metadata.TelemetryBuilder
	store  checkpoint.Store
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	// openFile opens a matched file (replaced in tests to simulate errors).
	openFile func(path string) (*os.File, error)
	// clone is set when the next consumer mutates data: a refused batch is
	// retried from a pristine copy, rebuilt from replay.
	clone  bool
	replay replayLog

	newClassifier func() multiline.Classifier // nil without multiline

	open     map[fileKey]*tailedFile
	files    []*tailedFile // open files in opening order
	known    []checkpoint.Entry
	seq      uint64
	scanned  bool
	fresh    bool // no checkpoints were ever saved
	lastScan time.Time

	batch     *batch
	parser    *payloadParser
	docker    container.DockerDecoder
	scratch   plog.LogRecord
	observed  time.Time
	releasing []*tailedFile
	// claimed counts the files at the front of releasing that a pending
	// delivery will finalize.
	claimed int
	// pending are delivered batches in delivery order, each applied (its
	// offsets acknowledged) once everything downstream is finished with it.
	pending  []*pendingDelivery
	dirty    bool
	lastSave time.Time
	fpBuf    []byte
	warned   map[string]struct{}
	warnFull bool
	seen     map[fileKey]bool
	// verified holds, for closed files whose content was checked against
	// their checkpoint's fingerprint, the change time (ctime) seen then: an
	// unchanged ctime means the inode was neither rewritten nor reused.
	verified map[fileKey]int64

	// counters flushed to the telemetry builder once per pass
	linesRead, bytesRead, truncated, utf8Replaced int64

	lagMu     sync.Mutex
	readLag   []fileLag
	commitLag int64
}

type fileLag struct {
	attr metric.MeasurementOption
	lag  int64
}

func newTailer(cfg *Config, logger *zap.Logger, next consumer.Logs, tb *metadata.TelemetryBuilder, store checkpoint.Store) (*tailer, error) {
	t := &tailer{
		cfg:      cfg,
		logger:   logger,
		next:     next,
		tb:       tb,
		store:    store,
		now:      time.Now,
		sleep:    sleepContext,
		openFile: os.Open,
		clone:    next.Capabilities().MutatesData,
		open:     make(map[fileKey]*tailedFile),
		batch:    newBatch(),
		parser:   newPayloadParser(cfg.Format),
		scratch:  plog.NewLogRecord(),
		warned:   make(map[string]struct{}),
		seen:     make(map[fileKey]bool),
		verified: make(map[fileKey]int64),
	}
	switch {
	case cfg.Multiline.Preset != "":
		if _, err := multiline.NewPreset(cfg.Multiline.Preset); err != nil {
			return nil, err
		}
		t.newClassifier = func() multiline.Classifier {
			c, _ := multiline.NewPreset(cfg.Multiline.Preset)
			return c
		}
	case cfg.Multiline.LineStartPattern != "":
		sp, err := multiline.NewStartPattern(cfg.Multiline.LineStartPattern)
		if err != nil {
			return nil, err
		}
		t.newClassifier = func() multiline.Classifier { return sp } // stateless: shared
	}
	return t, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// load reads the saved checkpoints; files are matched to them at the first scan.
func (t *tailer) load(ctx context.Context) error {
	entries, err := t.store.Load(ctx)
	if err != nil {
		return err
	}
	t.known = entries
	// start_at applies to the very first start only: after that, a file
	// without a checkpoint appeared while we were down and is read whole.
	t.fresh = entries == nil
	t.dirty = t.fresh // save once so the next start is not fresh
	return nil
}

// pass scans for files when due, reads every open file, delivers what was
// read and commits the offsets. It returns an error only when ctx ends while
// a batch is waiting to be accepted.
func (t *tailer) pass(ctx context.Context) error {
	now := t.now()
	t.observed = now
	if !t.scanned || now.Sub(t.lastScan) >= t.cfg.ScanInterval {
		if err := t.scan(ctx, now); err != nil {
			return err
		}
	}
	for i := 0; i < len(t.files); i++ {
		f := t.files[i]
		if err := t.readFile(ctx, f, now); err != nil {
			return err
		}
		if f.gone && f.rd.ReadPos() >= f.size && now.Sub(f.lastGrowth) >= t.cfg.RotationWait {
			// read to its end and quiet for rotation_wait: nobody writes anymore
			t.release(f)
			i--
		}
	}
	err := t.flush(ctx)
	t.publish()
	return err
}

// ---- discovery ----

// match returns the paths matching include and not exclude, sorted.
func (t *tailer) match() []string {
	var paths []string
	for _, pattern := range t.cfg.Include {
		found, _ := filepath.Glob(pattern) // patterns were validated
		for _, p := range found {
			if !t.excluded(p) {
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

func (t *tailer) excluded(path string) bool {
	base := filepath.Base(path)
	for _, pattern := range t.cfg.Exclude {
		if ok, _ := filepath.Match(pattern, path); ok {
			return true
		}
		if ok, _ := filepath.Match(pattern, base); ok {
			return true
		}
	}
	return false
}

type candidate struct {
	path  string
	size  int64
	ctime int64
	key   fileKey
}

func (t *tailer) scan(ctx context.Context, now time.Time) error {
	t.lastScan = now
	clear(t.seen)
	var candidates []candidate
	for _, p := range t.match() {
		fi, err := os.Stat(p)
		if err != nil {
			continue // vanished between glob and stat, or a dangling symlink
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		k := keyOf(fi)
		if f, ok := t.open[k]; ok {
			if !t.seen[k] && f.path != p {
				f.path, f.name = p, filepath.Base(p)
			}
			t.seen[k] = true
			continue
		}
		candidates = append(candidates, candidate{path: p, size: fi.Size(), ctime: ctimeOf(fi), key: k})
	}
	for _, f := range t.files {
		wasGone := f.gone
		f.gone = !t.seen[f.key]
		if f.gone && !wasGone {
			f.lastGrowth = now // the rotation wait starts now
			if fi, err := f.f.Stat(); err == nil && linksOf(fi) == 0 {
				f.deleted = true
				t.tb.FileTailRotations.Add(context.Background(), 1, rotationRemoved)
			} else {
				t.tb.FileTailRotations.Add(context.Background(), 1, rotationMoved)
			}
		}
	}
	if len(candidates) > 0 {
		// A truncated open file must be restarted before candidates are
		// considered, so a copy of its old content resumes from its offset.
		for _, f := range t.files {
			if _, _, err := t.checkTruncation(ctx, f, now); err != nil {
				return err
			}
		}
	}
	for _, c := range candidates {
		if _, ok := t.open[c.key]; ok {
			continue // two matched paths (e.g. a symlink) lead to one file
		}
		t.consider(c, now)
	}
	t.scanned = true
	return nil
}

// consider opens a newly matched file unless it is a copy of an open file or
// a known file that did not grow.
func (t *tailer) consider(c candidate, now time.Time) {
	if t.unchangedKnown(c) {
		return // closed earlier, nothing new
	}
	if len(t.open) >= t.cfg.MaxOpenFiles && !t.closeIdle(now) {
		if !t.scanned && t.fresh && t.cfg.StartAt == StartAtEnd {
			t.skipToEnd(c, now)
		}
		if !t.warnFull {
			t.warnFull = true
			t.logger.Warn("max_open_files reached; new files wait until an open file is idle", zap.Int("max_open_files", t.cfg.MaxOpenFiles))
		}
		return
	}
	fh, err := t.openFile(c.path)
	if err != nil {
		t.warnUnreadable(c.path, err)
		return
	}
	fi, err := fh.Stat()
	if err != nil {
		_ = fh.Close()
		t.warnUnreadable(c.path, err)
		return
	}
	key := keyOf(fi)
	if _, ok := t.open[key]; ok {
		_ = fh.Close()
		return
	}
	prefix, err := fingerprint.ReadPrefix(fh, t.cfg.FingerprintSize, nil)
	if err != nil {
		_ = fh.Close()
		t.warnUnreadable(c.path, err)
		return
	}
	if len(prefix) > 0 && t.copyOfOpen(prefix) {
		_ = fh.Close()
		return // e.g. the copy made by copytruncate: its content is read from the original
	}
	size := fi.Size()
	var offset int64
	if i := t.matchKnown(prefix, key); i >= 0 {
		e := t.known[i]
		t.known = slices.Delete(t.known, i, i+1)
		t.dirty = true
		if e.Offset <= size {
			offset = e.Offset
			if reread := min(e.Read, size) - e.Offset; reread > 0 {
				t.tb.FileTailRereadBytes.Add(context.Background(), reread)
			}
		}
	} else if !t.scanned && t.fresh && t.cfg.StartAt == StartAtEnd {
		offset = size
	}
	delete(t.warned, c.path)
	t.addFile(fh, c.path, key, prefix, offset, size, now)
}

// skipToEnd applies start_at end to a file present at the very first start
// that cannot be opened yet (max_open_files): its current end is recorded as
// a checkpoint, so the content it had then is skipped whenever it is opened,
// also after a restart.
func (t *tailer) skipToEnd(c candidate, now time.Time) {
	fh, err := t.openFile(c.path)
	if err != nil {
		return // read from its start once it can be opened
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return
	}
	prefix, err := fingerprint.ReadPrefix(fh, t.cfg.FingerprintSize, nil)
	if err != nil || len(prefix) == 0 {
		return
	}
	key := keyOf(fi)
	t.known = append(t.known, checkpoint.Entry{
		Fingerprint: fingerprint.Of(prefix),
		Offset:      fi.Size(),
		Read:        fi.Size(),
		Path:        c.path,
		Dev:         key.dev,
		Ino:         key.ino,
		Updated:     now.Unix(),
	})
	t.dirty = true
}

// unchangedKnown reports whether c is a closed file read to its end: its
// checkpoint has c's device, inode and size as offset, and its content is
// the checkpointed one. Device, inode and size alone do not tell: the file
// may have been truncated and rewritten to the same size, or deleted and its
// inode reused, while it was closed or the agent was down. The content is
// checked once by fingerprint and then trusted while the file's change time
// stays the same, so an unchanged closed file costs no open per scan.
func (t *tailer) unchangedKnown(c candidate) bool {
	i := slices.IndexFunc(t.known, func(e checkpoint.Entry) bool {
		return e.Dev == c.key.dev && e.Ino == c.key.ino && e.Offset == c.size
	})
	if i < 0 {
		return false
	}
	if ct, ok := t.verified[c.key]; ok && ct == c.ctime {
		return true
	}
	fh, err := t.openFile(c.path)
	if err != nil {
		return false // consider warns about it
	}
	defer fh.Close()
	prefix, err := fingerprint.ReadPrefix(fh, t.cfg.FingerprintSize, t.fpBuf)
	if err != nil {
		return false
	}
	t.fpBuf = prefix
	if !t.known[i].Fingerprint.Matches(prefix) {
		return false
	}
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	t.verified[c.key] = c.ctime
	return true
}

func (t *tailer) addFile(fh *os.File, path string, key fileKey, prefix []byte, offset, size int64, now time.Time) {
	f := t.newFile(fh, path, key, prefix, offset, size, now)
	f.f = fh
	t.open[key] = f
	t.files = append(t.files, f)
	t.tb.FileTailFilesOpen.Add(context.Background(), 1)
	t.logger.Debug("tailing file", zap.String("path", path), zap.Int64("offset", offset))
}

// newFile builds the reading state of a file read through src from offset.
func (t *tailer) newFile(src io.ReaderAt, path string, key fileKey, prefix []byte, offset, size int64, now time.Time) *tailedFile {
	t.seq++
	f := &tailedFile{
		seq:        t.seq,
		path:       path,
		name:       filepath.Base(path),
		key:        key,
		prefix:     prefix,
		fp:         fingerprint.Of(prefix),
		rd:         reader.New(src, offset, t.cfg.MaxRecordSize),
		acked:      offset,
		recorded:   offset,
		size:       size,
		lastGrowth: now,
		resource:   newResource(path, t.cfg.ResourceAttributes),
	}
	if t.cfg.Format == FormatAuto || t.cfg.Format == FormatCRI || t.cfg.Format == FormatDocker {
		f.joiner = container.NewJoiner(t.cfg.MaxRecordSize)
	}
	if t.newClassifier != nil {
		f.agg = multiline.NewAggregator[lineMeta](t.newClassifier(), t.cfg.MaxRecordSize)
	}
	f.emit = func(r multiline.Record[lineMeta]) { t.emitRecord(f, r.Data, r.Meta, r.Truncated) }
	return f
}

// copyOfOpen reports whether an open file currently starts with exactly
// prefix: the candidate is then a copy of it (copytruncate makes one) and
// its content is read through the original. Comparing against the open
// file's current bytes, not a remembered prefix, keeps a short open file from
// hiding a different new file that merely starts the same way.
func (t *tailer) copyOfOpen(prefix []byte) bool {
	for _, f := range t.files {
		if len(f.prefix) == 0 || !bytes.HasPrefix(prefix, f.prefix[:min(len(f.prefix), len(prefix))]) {
			continue // cheap rejection on the remembered bytes
		}
		p, err := fingerprint.ReadPrefix(f.f, len(prefix), t.fpBuf)
		if err != nil {
			continue
		}
		t.fpBuf = p
		if bytes.Equal(p, prefix) {
			return true
		}
	}
	return false
}

// matchKnown finds the checkpoint of the file with this prefix, preferring
// one with the same device and inode.
func (t *tailer) matchKnown(prefix []byte, key fileKey) int {
	found := -1
	for i, e := range t.known {
		if !e.Fingerprint.Matches(prefix) {
			continue
		}
		if e.Dev == key.dev && e.Ino == key.ino {
			return i
		}
		if found < 0 {
			found = i
		}
	}
	return found
}

// closeIdle closes the open file idle the longest (if idle long enough) to
// make room under max_open_files; its offset is kept.
func (t *tailer) closeIdle(now time.Time) bool {
	var oldest *tailedFile
	for _, f := range t.files {
		if f.gone || !f.idle() || now.Sub(f.lastGrowth) < t.cfg.CloseInactive {
			continue
		}
		if oldest == nil || f.lastGrowth.Before(oldest.lastGrowth) {
			oldest = f
		}
	}
	if oldest == nil {
		return false
	}
	t.closeFile(oldest)
	if !oldest.fp.IsZero() {
		t.known = append(t.known, t.entryOf(oldest, now))
	}
	t.dirty = true
	return true
}

func (t *tailer) closeFile(f *tailedFile) {
	_ = f.f.Close()
	delete(t.open, f.key)
	if i := slices.Index(t.files, f); i >= 0 {
		t.files = slices.Delete(t.files, i, i+1)
	}
	t.tb.FileTailFilesOpen.Add(context.Background(), -1)
}

// release closes a file that was rotated away or deleted and is read to its
// end. An unterminated last line is emitted as a line of its own: nobody
// writes to the file anymore.
func (t *tailer) release(f *tailedFile) {
	for { // complete lines still buffered (a pass stops at its byte budget)
		line, ok, err := f.rd.Next()
		if err != nil || !ok {
			break
		}
		t.linesRead++
		t.bytesRead += line.End - line.Start
		t.processLine(f, line)
	}
	if line, ok := f.rd.Remainder(); ok {
		t.processLine(f, line)
	}
	t.flushPending(f)
	t.closeFile(f)
	t.releasing = append(t.releasing, f)
	t.logger.Debug("released file", zap.String("path", f.path), zap.Bool("deleted", f.deleted))
}

// flushPending emits what f buffers (partial container chunks, a pending
// multiline record) because no continuation can come anymore.
func (t *tailer) flushPending(f *tailedFile) {
	t.flushPartialChunks(f)
	if f.agg != nil {
		f.agg.Flush(f.emit)
		if f.aggErr != nil {
			f.aggErr.Flush(f.emit)
		}
	}
}

// flushPartialChunks emits the partial container chunks f holds, each
// stream's as one line.
func (t *tailer) flushPartialChunks(f *tailedFile) {
	for { // chunks of stdout and of stderr are pending apart
		j, ok := f.joiner.FlushOrNil()
		if !ok {
			return
		}
		t.afterEnvelope(f, j.Content, lineMeta{time: j.Time, stream: j.Stream}, j.Start, f.rd.Offset(), j.Truncated)
	}
}

func (t *tailer) warnUnreadable(path string, err error) {
	if _, ok := t.warned[path]; ok {
		return
	}
	if len(t.warned) >= maxWarnedPaths {
		clear(t.warned)
	}
	t.warned[path] = struct{}{}
	t.tb.FileTailOpenErrors.Add(context.Background(), 1)
	t.logger.Warn("cannot read file; skipping it until it becomes readable", zap.String("path", path), zap.Error(err))
}

// ---- reading ----

// readFile reads what f has gained, delivering full batches on the way.
func (t *tailer) readFile(ctx context.Context, f *tailedFile, now time.Time) error {
	size, ok, err := t.checkTruncation(ctx, f, now)
	if err != nil || !ok {
		return err
	}
	if size > f.size {
		f.lastGrowth = now
	}
	f.size = size
	if len(f.prefix) < t.cfg.FingerprintSize && size > int64(len(f.prefix)) {
		if p, err := fingerprint.ReadPrefix(f.f, t.cfg.FingerprintSize, nil); err == nil && bytes.HasPrefix(p, f.prefix) {
			f.prefix, f.fp = p, fingerprint.Of(p)
		}
	}
	budget := int64(t.cfg.MaxBatchBytes) // per file and pass, so a busy file does not starve the others
	for budget > 0 {
		line, ok, err := f.rd.Next()
		if err != nil {
			t.warnUnreadable(f.path, err)
			break
		}
		if !ok {
			break
		}
		budget -= line.End - line.Start
		t.linesRead++
		t.bytesRead += line.End - line.Start
		t.processLine(f, line)
		if t.batch.records >= t.cfg.MaxBatchRecords || t.batch.bytes >= t.cfg.MaxBatchBytes {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
	}
	if f.joiner != nil && now.Sub(f.lastGrowth) >= t.cfg.Multiline.FlushTimeout {
		// Partial chunks whose final chunk has not come for flush_timeout:
		// a runtime writes a long line's chunks together, so the writer
		// stalled or died mid-line (a crashing container's last words).
		// They go out as they are; a final chunk arriving later is a line
		// of its own.
		t.flushPartialChunks(f)
	}
	if f.agg != nil {
		f.agg.FlushIdle(now, t.cfg.Multiline.FlushTimeout, f.emit)
		if f.aggErr != nil {
			f.aggErr.FlushIdle(now, t.cfg.Multiline.FlushTimeout, f.emit)
		}
	}
	if f.rd.Buffered() == 0 {
		f.rd.Release()
	}
	return nil
}

// checkTruncation stats f and restarts it from the beginning when it was
// truncated (copytruncate) or its first bytes were rewritten. ok is false
// when the file cannot be stat'ed.
func (t *tailer) checkTruncation(ctx context.Context, f *tailedFile, now time.Time) (size int64, ok bool, err error) {
	fi, err := f.f.Stat()
	if err != nil {
		t.warnUnreadable(f.path, err)
		return 0, false, nil
	}
	size = fi.Size()
	if linksOf(fi) == 0 {
		f.deleted = true
	}
	if size < f.rd.ReadPos() || (size != f.size && t.contentReplaced(f, size)) {
		if err := t.restartFile(ctx, f, now); err != nil {
			return 0, false, err
		}
	}
	return size, true, nil
}

// contentReplaced reports whether the first bytes of f changed: the file was
// truncated and rewritten past our offset between two passes.
func (t *tailer) contentReplaced(f *tailedFile, size int64) bool {
	if len(f.prefix) == 0 || size < int64(len(f.prefix)) {
		return false
	}
	p, err := fingerprint.ReadPrefix(f.f, len(f.prefix), t.fpBuf)
	if err != nil {
		return false
	}
	t.fpBuf = p
	return !bytes.Equal(p, f.prefix)
}

// restartFile handles a copytruncate: what was read is delivered, the old
// content's checkpoint is kept (a copy of it may still be matched and read
// from there), and the file is read again from its start.
func (t *tailer) restartFile(ctx context.Context, f *tailedFile, now time.Time) error {
	t.tb.FileTailRotations.Add(context.Background(), 1, rotationTruncated)
	t.flushPending(f)
	if err := t.flush(ctx); err != nil {
		return err
	}
	if !f.fp.IsZero() {
		e := t.entryOf(f, now)
		e.Dev, e.Ino = 0, 0 // the inode now holds other content
		t.known = append(t.known, e)
	}
	f.rd.Reset(0)
	f.prefix, f.fp = nil, fingerprint.Print{}
	f.acked, f.size, f.recorded = 0, 0, 0
	f.generation++
	t.dirty = true
	return nil
}

// processLine runs one physical line through envelope decoding, partial-line
// joining and multiline framing.
func (t *tailer) processLine(f *tailedFile, line reader.Line) {
	data, meta, start := line.Data, lineMeta{}, line.Start
	truncated := line.Truncated
	if f.joiner != nil {
		if e, ok := t.decodeEnvelope(line.Data); ok {
			j, done := f.joiner.Add(e, line.Start, line.Truncated)
			if !done {
				return
			}
			data, meta, start, truncated = j.Content, lineMeta{time: j.Time, stream: j.Stream}, j.Start, j.Truncated
		}
	}
	t.afterEnvelope(f, data, meta, start, line.End, truncated)
}

func (t *tailer) decodeEnvelope(line []byte) (container.Entry, bool) {
	switch t.cfg.Format {
	case FormatCRI:
		return container.ParseCRI(line)
	case FormatDocker:
		return t.decodeDocker(line)
	}
	if container.LooksLikeCRI(line) {
		return container.ParseCRI(line)
	}
	if container.LooksLikeDocker(line) {
		return t.decodeDocker(line)
	}
	return container.Entry{}, false
}

func (t *tailer) decodeDocker(line []byte) (container.Entry, bool) { return t.docker.Decode(line) }

func (t *tailer) afterEnvelope(f *tailedFile, data []byte, meta lineMeta, start, end int64, truncated bool) {
	if f.agg != nil {
		agg := f.agg
		if meta.stream == "stderr" { // stdout and stderr records are framed apart
			if f.aggErr == nil {
				f.aggErr = multiline.NewAggregator[lineMeta](t.newClassifier(), t.cfg.MaxRecordSize)
			}
			agg = f.aggErr
		}
		agg.Add(data, meta, start, end, truncated, t.observed, f.emit)
		return
	}
	t.emitRecord(f, data, meta, truncated)
}

// emitRecord parses one complete record into the batch.
func (t *tailer) emitRecord(f *tailedFile, data []byte, meta lineMeta, truncated bool) {
	if truncated {
		t.truncated++
	}
	data, replaced := t.parser.validUTF8(data)
	if replaced {
		t.utf8Replaced++
	}
	in := recordInput{f: f, path: f.path, name: f.name, meta: meta, observed: t.observed}
	if t.clone {
		t.replay.add(data, in)
	}
	t.buildRecord(data, in)
}

// recordInput is, besides its text, everything a record is built from.
type recordInput struct {
	f          *tailedFile
	path, name string // the file's path and name when the record was read
	meta       lineMeta
	observed   time.Time
}

// buildRecord parses data into a record and adds it to the batch; the same
// inputs always build the same record.
func (t *tailer) buildRecord(data []byte, in recordInput) {
	lr := t.scratch
	service := t.parser.parse(data, lr)
	if lr.Timestamp() == 0 {
		if !in.meta.time.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(in.meta.time))
		} else {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(in.observed))
		}
	}
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(in.observed))
	setFileAttrs(lr, in.path, in.name, in.meta.stream)
	t.batch.add(in.f, service, lr, len(data))
}

// replayLog keeps what each record of the batch being built was made from,
// so that a refused batch can be built again for the retry when the next
// consumer mutates data (it may have changed the refused one). Copying each
// record's text costs far less than encoding every batch to keep a pristine
// copy (which was ≈ 5 % of the agent's CPU), and retries are rare.
type replayLog struct {
	text   []byte
	ends   []int // text[ends[i-1]:ends[i]] is record i's text
	inputs []recordInput
}

func (r *replayLog) add(data []byte, in recordInput) {
	r.text = append(r.text, data...)
	r.ends = append(r.ends, len(r.text))
	r.inputs = append(r.inputs, in)
}

// reset empties the log, keeping a text buffer of up to 4 MiB for the next
// batch.
func (r *replayLog) reset() {
	if cap(r.text) > 4<<20 {
		r.text = nil
	}
	r.text, r.ends = r.text[:0], r.ends[:0]
	clear(r.inputs) // drop the file references
	r.inputs = r.inputs[:0]
}

// rebuild builds the logged records again into a new batch.
func (t *tailer) rebuild() plog.Logs {
	start := 0
	for i, in := range t.replay.inputs {
		end := t.replay.ends[i]
		t.buildRecord(t.replay.text[start:end], in)
		start = end
	}
	return t.batch.take()
}

// ---- delivery and commit ----

// pendingDelivery is one delivered batch and the offsets it makes safe. A
// processor that holds records past the Consume call (tail_sampling) holds
// its acknowledgement (internal/ack); the offsets are applied only once it
// is released, so a crash re-reads what was still held.
type pendingDelivery struct {
	offsets  []fileOffset
	release  int // files at the front of tailer.releasing to finalize
	records  int
	batch    *ack.Batch // nil when nothing was delivered
	done     atomic.Bool
	err      error // set before done
	released []fileOffset
}

type fileOffset struct {
	f          *tailedFile
	off        int64
	generation int
}

// flush delivers the batch and records every file's offset that becomes safe
// once the batch is finished downstream; finished deliveries are applied.
func (t *tailer) flush(ctx context.Context) error {
	p := &pendingDelivery{}
	if !t.batch.empty() {
		n := t.batch.records
		b, err := t.deliver(ctx, t.batch.take(), n, p)
		if err != nil {
			return err
		}
		p.batch, p.records = b, n
	}
	for _, f := range t.files {
		if off := f.safeOffset(); off != f.recorded {
			f.recorded = off
			p.offsets = append(p.offsets, fileOffset{f, off, f.generation})
		}
	}
	p.release = len(t.releasing) - t.claimed
	t.claimed = len(t.releasing)
	for _, f := range t.releasing[len(t.releasing)-p.release:] {
		p.released = append(p.released, fileOffset{f, f.rd.Offset(), f.generation})
	}
	t.pending = append(t.pending, p)
	if p.batch != nil {
		p.batch.Release(nil) // the delivery's own hold: done now unless a processor holds it
	} else {
		p.done.Store(true)
	}
	t.applyFinished()
	t.maybeSave(ctx, t.now(), false)
	return nil
}

// applyFinished acknowledges the offsets of finished deliveries, in order.
func (t *tailer) applyFinished() {
	now := t.now()
	k := 0
	for ; k < len(t.pending) && t.pending[k].done.Load(); k++ {
		p := t.pending[k]
		if p.err != nil {
			// Held records that downstream gave up on (e.g. an exporter
			// after its retries): they cannot be read again in order.
			t.tb.FileTailRecordsRejected.Add(context.Background(), int64(p.records))
			t.logger.Error("records held downstream were not delivered; counted as rejected", zap.Int("records", p.records), zap.Error(p.err))
		}
		for _, fo := range p.offsets {
			if fo.generation == fo.f.generation && fo.off != fo.f.acked {
				fo.f.acked = fo.off
				t.dirty = true
			}
		}
		for _, fo := range p.released {
			t.dirty = true
			f := fo.f
			if !f.deleted && !f.fp.IsZero() {
				f.acked = fo.off
				t.known = append(t.known, t.entryOf(f, now))
			}
		}
		t.releasing = t.releasing[p.release:]
		t.claimed -= p.release
	}
	if k > 0 {
		clear(t.pending[:k])
		t.pending = t.pending[k:]
	}
}

// deliver hands logs to the next consumer, retrying with backoff until it is
// accepted, refused permanently, or ctx ends. It returns the accepted
// attempt's acknowledgement, still holding its own hold, which the caller
// releases once it has recorded what the delivery makes safe.
func (t *tailer) deliver(ctx context.Context, logs plog.Logs, records int, p *pendingDelivery) (*ack.Batch, error) {
	// A consumer that mutates data may leave a refused batch changed, so
	// each retry sends the batch built again from the replay log.
	defer t.replay.reset()
	wait := t.cfg.Retry.InitialInterval
	for attempt := 0; ; attempt++ {
		send := logs
		if t.clone && attempt > 0 {
			send = t.rebuild()
		}
		// Only the accepted attempt's outcome counts; the creator's hold is
		// released after accepted is set, so onDone never runs before it.
		var accepted atomic.Bool
		b := ack.NewBatch(func(err error) {
			if accepted.Load() {
				p.err = err
				p.done.Store(true)
			}
		})
		err := t.next.ConsumeLogs(ack.NewContext(ctx, b), send)
		if err == nil {
			accepted.Store(true)
			t.tb.FileTailRecordsEmitted.Add(ctx, int64(records))
			return b, nil
		}
		// This attempt's outcome no longer matters: holds a processor took
		// during it finish into nothing.
		b.Cancel()
		orphan(b)
		if consumererror.IsPermanent(err) {
			t.tb.FileTailRecordsRejected.Add(ctx, int64(records))
			t.logger.Error("next consumer permanently refused a batch; its records are counted as rejected", zap.Int("records", records), zap.Error(err))
			return nil, nil
		}
		t.tb.FileTailConsumeRetries.Add(ctx, 1)
		if attempt == 0 {
			t.logger.Warn("next consumer refused a batch; retrying until accepted", zap.Int("records", records), zap.Error(err))
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("batch of %d records not delivered: %w", records, err)
		}
		wait = min(2*wait, t.cfg.Retry.MaxInterval)
	}
}

func (t *tailer) entryOf(f *tailedFile, now time.Time) checkpoint.Entry {
	return checkpoint.Entry{
		Fingerprint: f.fp,
		Offset:      f.acked,
		Read:        max(f.rd.ReadPos(), f.acked),
		Path:        f.path,
		Dev:         f.key.dev,
		Ino:         f.key.ino,
		Updated:     now.Unix(),
	}
}

// maybeSave persists the checkpoints when they changed and commit_interval
// allows (always when force is set).
func (t *tailer) maybeSave(ctx context.Context, now time.Time, force bool) {
	if !t.dirty && !force {
		return
	}
	if !force && t.cfg.CommitInterval > 0 && now.Sub(t.lastSave) < t.cfg.CommitInterval {
		return
	}
	t.pruneKnown(now)
	entries := make([]checkpoint.Entry, 0, len(t.files)+len(t.known))
	for _, f := range t.files {
		if !f.fp.IsZero() {
			entries = append(entries, t.entryOf(f, now))
		}
	}
	for _, f := range t.releasing {
		// Released but not yet finished downstream: keep the last
		// acknowledged offset.
		if !f.deleted && !f.fp.IsZero() {
			entries = append(entries, t.entryOf(f, now))
		}
	}
	entries = append(entries, t.known...)
	t.dirty = false
	t.lastSave = now
	t.save(ctx, entries)
}

func (t *tailer) save(ctx context.Context, entries []checkpoint.Entry) {
	if err := t.store.Save(ctx, entries); err != nil {
		t.dirty = true // retried with the next save
		t.logger.Error("cannot save checkpoints (a restart now re-reads more)", zap.Error(err))
	}
}

func (t *tailer) pruneKnown(now time.Time) {
	cutoff := now.Add(-knownTTL).Unix()
	t.known = slices.DeleteFunc(t.known, func(e checkpoint.Entry) bool { return e.Updated < cutoff })
	if limit := max(minKnownCap, 4*t.cfg.MaxOpenFiles); len(t.known) > limit {
		slices.SortFunc(t.known, func(a, b checkpoint.Entry) int { return int(b.Updated - a.Updated) })
		t.known = t.known[:limit]
	}
}

// publish flushes counters and refreshes the lag snapshot read by the
// asynchronous gauges.
func (t *tailer) publish() {
	ctx := context.Background()
	if t.linesRead > 0 {
		t.tb.FileTailLinesRead.Add(ctx, t.linesRead)
		t.tb.FileTailBytesRead.Add(ctx, t.bytesRead)
		t.linesRead, t.bytesRead = 0, 0
	}
	if t.truncated > 0 {
		t.tb.FileTailRecordsTruncated.Add(ctx, t.truncated)
		t.truncated = 0
	}
	if t.utf8Replaced > 0 {
		t.tb.FileTailRecordsUtf8Replaced.Add(ctx, t.utf8Replaced)
		t.utf8Replaced = 0
	}
	t.lagMu.Lock()
	defer t.lagMu.Unlock()
	t.readLag = t.readLag[:0]
	t.commitLag = 0
	for _, f := range t.files {
		if f.lagPath != f.path {
			f.lagPath = f.path
			f.lagAttr = metric.WithAttributeSet(attribute.NewSet(attribute.String("file", f.path)))
		}
		// Offset is past the last line handed to the pipeline: lag counts
		// bytes not yet framed into records, whether on disk or buffered.
		t.readLag = append(t.readLag, fileLag{attr: f.lagAttr, lag: max(f.size-f.rd.Offset(), 0)})
		t.commitLag += max(f.rd.Offset()-f.acked, 0)
	}
}

func (t *tailer) observeReadLag(_ context.Context, o metric.Int64Observer) error {
	t.lagMu.Lock()
	defer t.lagMu.Unlock()
	for _, l := range t.readLag {
		o.Observe(l.lag, l.attr)
	}
	return nil
}

func (t *tailer) observeCommitLag(_ context.Context, o metric.Int64Observer) error {
	t.lagMu.Lock()
	defer t.lagMu.Unlock()
	o.Observe(t.commitLag)
	return nil
}

// close saves the final checkpoints and closes every file and the store.
// Deliveries still held downstream are cancelled: a processor drops them
// instead of emitting them, and the next start reads them again.
func (t *tailer) close(ctx context.Context) error {
	t.applyFinished()
	for _, p := range t.pending {
		if p.batch != nil {
			p.batch.Cancel()
		}
	}
	t.maybeSave(ctx, t.now(), true)
	for len(t.files) > 0 {
		t.closeFile(t.files[0])
	}
	var errs []error
	if err := t.store.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close checkpoint store: %w", err))
	}
	return errors.Join(errs...)
}

// orphan drops the creator's hold of an attempt that failed: its outcome is
// ignored, but holds taken during it must still be able to finish.
func orphan(b *ack.Batch) {
	b.Release(errors.New("attempt refused"))
}
