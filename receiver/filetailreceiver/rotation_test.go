package filetailreceiver

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestRotationByRenameUnderLoad: the writer keeps writing to the renamed file
// for a while, then a new file appears at the path. Nothing is lost and
// nothing is read twice.
func TestRotationByRenameUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.MaxBatchRecords = 64
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))

	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	n := 0
	write := func(f *os.File, count int) {
		for i := 0; i < count; i++ {
			_, err := f.WriteString("a-" + pad6(n) + "\n")
			require.NoError(t, err)
			n++
		}
	}
	for rotation := 0; rotation < 5; rotation++ {
		write(w, 300)
		h.pass()
		write(w, 200)
		require.NoError(t, os.Rename(path, filepath.Join(dir, "app.log."+pad6(rotation))))
		write(w, 100) // late writes to the old file
		h.pass()      // scan notices the rename, keeps reading the old descriptor
		require.NoError(t, w.Close())
		w, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		require.NoError(t, err)
		write(w, 150)
		h.pass()
		h.clock.advance(cfg.RotationWait)
		h.pass() // the old file is released
	}
	require.NoError(t, w.Close())
	h.pass()
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "a", n), "rename rotation: no duplicates")
	assert.Equal(t, n, h.sink.count())
	assert.Equal(t, int64(5), h.metric("otelcol_file_tail_rotations"))
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_files_open"), "rotated files are released")
	h.stop()
}

// TestRotationByRenameAcrossRestart: the agent restarts while the rotated file
// still has unread lines; they are read from the checkpoint under the new name.
func TestRotationByRenameAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.Include = []string{filepath.Join(dir, "app.log*")}
	cfg.StartAt = StartAtEnd
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 10) // before start: skipped by start_at end
	h.pass()
	appendLines(t, path, "a", 10, 20)
	h.pass()
	h.stop()
	appendLines(t, path, "a", 20, 30)
	require.NoError(t, os.Rename(path, path+".1"))
	appendLines(t, path, "b", 0, 5)
	h.start()
	h.pass()
	bodies := h.sink.bodies()
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "a", 10, 30))
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "b", 0, 5), "a new file at the path is read from its start")
	assert.Len(t, bodies, 25)
	h.stop()
}

// TestRotationByCopyTruncate: logrotate copies the file and truncates it.
// When the copy is matched too, the lines written between our last read and
// the truncation are read from the copy, from the old offset (no re-read).
func TestRotationByCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.Include = []string{filepath.Join(dir, "app.log*")}
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	n := 0
	for rotation := 0; rotation < 3; rotation++ {
		appendLines(t, path, "a", n, n+100)
		n += 100
		h.pass()
		appendLines(t, path, "a", n, n+40) // written, not yet read
		n += 40
		copyFile(t, path, path+"."+pad6(rotation))
		require.NoError(t, os.Truncate(path, 0))
		appendLines(t, path, "a", n, n+10)
		n += 10
		h.pass() // truncation detected; the copy looks like the original and is skipped
		h.pass() // the copy no longer matches an open file: read from the old offset
		h.clock.advance(cfg.RotationWait)
		h.pass()
	}
	dups := expectLines(t, h.sink.bodies(), "a", n)
	assert.Zero(t, dups, "copytruncate with a matched copy: no loss, no duplicates")
	assert.Equal(t, int64(3), h.metric("otelcol_file_tail_rotations"))
	h.stop()
}

// TestCopyTruncateWithoutMatchedCopy documents the limit of copytruncate
// when only the live file is tailed: lines written after our last read and
// before the truncation exist only in the copy and are lost; the rest is
// read exactly once.
func TestCopyTruncateWithoutMatchedCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 100)
	h.pass()
	appendLines(t, path, "a", 100, 140)
	copyFile(t, path, filepath.Join(dir, "app.log.1"))
	require.NoError(t, os.Truncate(path, 0))
	appendLines(t, path, "a", 140, 150)
	h.pass()
	bodies := h.sink.bodies()
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "a", 0, 100))
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "a", 140, 150))
	assert.Len(t, bodies, 110, "the 40 lines only in the unmatched copy are not read")
	h.stop()
}

// TestTruncateAndRegrowPastOffset: the file is truncated and rewritten beyond
// the old offset between two passes; the changed first bytes reveal it.
func TestTruncateAndRegrowPastOffset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 10)
	h.pass()
	require.NoError(t, os.Truncate(path, 0))
	appendLines(t, path, "b", 0, 30)
	h.pass()
	bodies := h.sink.bodies()
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "b", 0, 30), "the new content is read from its start")
	assert.Len(t, bodies, 40)
	h.stop()
}

// TestDeleteAndRecreate: the file is deleted (with an unterminated last line)
// and created again; the old file's tail is read and its descriptor released.
func TestDeleteAndRecreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 10)
	h.pass()
	appendLines(t, path, "a", 10, 20)
	appendRaw(t, path, "a-last-without-newline")
	require.NoError(t, os.Remove(path))
	appendLines(t, path, "b", 0, 10)
	h.pass()
	h.clock.advance(h.cfg.RotationWait)
	h.pass()
	bodies := h.sink.bodies()
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "a", 0, 20))
	assert.Equal(t, 0, expectLinesFrom(t, bodies, "b", 0, 10))
	assert.Contains(t, bodies, "a-last-without-newline")
	assert.Len(t, bodies, 31)
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_files_open"), "the deleted file's descriptor is closed")
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_rotations"))
	h.stop()
}

// TestMaxOpenFiles: with more files than descriptors allowed, idle files are
// closed (offset kept) and reopened when they grow, without re-reading.
func TestMaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxOpenFiles = 2
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	names := []string{"a", "b", "c"}
	for _, n := range names {
		appendLines(t, filepath.Join(dir, n+".log"), n, 0, 5)
	}
	h.pass()
	assert.Equal(t, int64(2), h.metric("otelcol_file_tail_files_open"))
	assert.Equal(t, 10, h.sink.count(), "the third file waits for a free descriptor")

	h.clock.advance(cfg.CloseInactive)
	h.pass()
	assert.Equal(t, 15, h.sink.count(), "an idle file was closed to make room")
	assert.Equal(t, int64(2), h.metric("otelcol_file_tail_files_open"))

	for _, n := range names {
		appendLines(t, filepath.Join(dir, n+".log"), n, 5, 8)
	}
	for i := 0; i < 4; i++ {
		h.clock.advance(cfg.CloseInactive)
		h.pass()
	}
	bodies := h.sink.bodies()
	for _, n := range names {
		assert.Equal(t, 0, expectLines(t, bodies, n, 8), "file %s", n)
	}
	assert.Len(t, bodies, 24)
	h.stop()
}

// TestUnreadableFileWarnedOnce: one file cannot be opened; it is warned about
// once, counted, and the other files are tailed.
func TestUnreadableFileWarnedOnce(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.log"), filepath.Join(dir, "bad.log")
	appendLines(t, good, "g", 0, 3)
	appendLines(t, bad, "x", 0, 3)
	core, logs := observer.New(zapcore.WarnLevel)
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	h.tailer.logger = h.tailer.logger.WithOptions(zapWrap(core))
	h.tailer.openFile = func(p string) (*os.File, error) {
		if p == bad {
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrPermission}
		}
		return os.Open(p)
	}
	for i := 0; i < 3; i++ {
		h.pass()
	}
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "g", 3))
	assert.Equal(t, 1, logs.FilterMessage("cannot read file; skipping it until it becomes readable").Len())
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_open_errors"))

	h.tailer.openFile = os.Open // permissions fixed
	h.pass()
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "x", 3))
	h.stop()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.Create(to)
	require.NoError(t, err)
	defer dst.Close()
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
}

// TestReleaseDrainsBufferedLines: a deleted file still holding complete lines
// in the reader's buffer (a pass stops at its byte budget) is released line
// by line, not as one record.
func TestReleaseDrainsBufferedLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	cfg := testConfig(dir)
	cfg.MaxRecordSize = 64
	cfg.MaxBatchBytes = 90
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 45)
	h.pass() // lines 0-9
	require.NoError(t, os.Remove(path))
	h.pass() // the deletion is seen; lines 10-19
	require.Equal(t, 20, h.sink.count())
	h.clock.advance(cfg.RotationWait)
	h.pass() // lines 20-29 within the budget, then the release drains 30-44
	assert.Equal(t, 45, h.sink.count())
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "a", 45))
	assert.Equal(t, int64(0), h.metric("otelcol_file_tail_files_open"))
	h.stop()
}
