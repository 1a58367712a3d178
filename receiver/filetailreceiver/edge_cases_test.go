package filetailreceiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCRIPartialChunksAreJoinedPerStream: containerd writes stdout and stderr
// of a container into one file from two goroutines, so a stdout line split
// into P chunks can be interleaved with stderr lines. Chunks must be joined
// within their own stream only.
func TestCRIPartialChunksAreJoinedPerStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	appendRaw(t, path,
		"2024-05-01T12:00:00Z stdout P out one \n"+
			"2024-05-01T12:00:01Z stderr F err whole\n"+
			"2024-05-01T12:00:02Z stdout F out two\n")
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	require.ElementsMatch(t, []string{"err whole", "out one out two"}, sink.bodies())
	for _, r := range sink.records {
		want := "stdout"
		if strings.HasPrefix(r.Body().AsString(), "err") {
			want = "stderr"
		}
		assert.Equal(t, want, attr(r, attrIOStream), r.Body().AsString())
	}
	assert.Equal(t, int64(len("2024-05-01T12:00:00Z stdout P out one \n"+
		"2024-05-01T12:00:01Z stderr F err whole\n"+
		"2024-05-01T12:00:02Z stdout F out two\n")), h.saved(path))
	h.stop()
}

// TestCRIPendingChunkOfOneStreamHoldsCheckpoint: while a stdout chunk waits
// for its end, a complete stderr line after it must not move the checkpoint
// past the pending chunk.
func TestCRIPendingChunkOfOneStreamHoldsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	first := "2024-05-01T12:00:00Z stdout F whole\n"
	appendRaw(t, path, first+
		"2024-05-01T12:00:01Z stdout P out one \n"+
		"2024-05-01T12:00:02Z stderr F err whole\n")
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Equal(t, []string{"whole", "err whole"}, sink.bodies())
	assert.Equal(t, int64(len(first)), h.saved(path), "the checkpoint stays before the pending stdout chunk")
	appendRaw(t, path, "2024-05-01T12:00:03Z stdout F out two\n")
	h.pass()
	assert.Equal(t, []string{"whole", "err whole", "out one out two"}, sink.bodies())
	h.stop()
}

// TestDockerPartialChunksAreJoinedPerStream is the json-file counterpart.
func TestDockerPartialChunksAreJoinedPerStream(t *testing.T) {
	dir := t.TempDir()
	appendRaw(t, filepath.Join(dir, "d.log"),
		`{"log":"out one ","stream":"stdout","time":"2024-05-01T12:00:00Z"}`+"\n"+
			`{"log":"err whole\n","stream":"stderr","time":"2024-05-01T12:00:01Z"}`+"\n"+
			`{"log":"out two\n","stream":"stdout","time":"2024-05-01T12:00:02Z"}`+"\n")
	sink := &recordingSink{}
	h := newHarness(t, testConfig(dir), sink, fileStore(t))
	h.pass()
	require.ElementsMatch(t, []string{"err whole", "out one out two"}, sink.bodies())
	h.stop()
}

// TestFileRewrittenToSameSizeWhileDownIsRead: a file whose content was
// replaced while the agent was down (copytruncate and regrowth, or a new
// file on a reused inode) with exactly the saved offset as its size must be
// read, not taken for the unchanged known file.
func TestFileRewrittenToSameSizeWhileDownIsRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 10)
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	h.pass()
	require.Len(t, h.sink.bodies(), 10)
	h.stop()
	// Same inode, same size, new content.
	require.NoError(t, os.Truncate(path, 0))
	appendLines(t, path, "b", 0, 10)
	h.start()
	h.pass()
	h.pass()
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "b", 10))
	h.stop()
}

// TestSymlinkRetargeted: /var/log/containers/*.log are symlinks the kubelet
// retargets. The old target is read to its end, the new one from its start.
func TestSymlinkRetargeted(t *testing.T) {
	dir := t.TempDir()
	pods := filepath.Join(dir, "pods")
	links := filepath.Join(dir, "containers")
	require.NoError(t, os.MkdirAll(pods, 0o700))
	require.NoError(t, os.MkdirAll(links, 0o700))
	a, b := filepath.Join(pods, "0.log"), filepath.Join(pods, "1.log")
	link := filepath.Join(links, "x.log")
	appendLines(t, a, "a", 0, 5)
	require.NoError(t, os.Symlink(a, link))
	cfg := testConfig(links)
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	h.pass()
	appendLines(t, a, "a", 5, 10)
	appendLines(t, b, "b", 0, 5)
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(b, link))
	h.pass()
	appendLines(t, a, "a", 10, 12) // the old target still gets its last lines
	h.pass()
	h.pass()
	h.pass()
	bodies := h.sink.bodies()
	assert.Equal(t, 0, expectLines(t, bodies, "a", 12))
	assert.Equal(t, 0, expectLines(t, bodies, "b", 5))
	assert.Len(t, bodies, 17)
	h.stop()
}

// TestReleaseFlushesPendingChunksOfBothStreams: a deleted container log
// with an unfinished stdout line and an unfinished stderr line emits both.
func TestReleaseFlushesPendingChunksOfBothStreams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	appendRaw(t, path,
		"2024-05-01T12:00:00Z stdout P out one \n"+
			"2024-05-01T12:00:01Z stderr P err one \n"+
			"2024-05-01T12:00:02Z stdout P out two\n")
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Empty(t, sink.bodies())
	require.NoError(t, os.Remove(path))
	h.pass()
	h.pass()
	assert.Equal(t, []string{"out one out two", "err one "}, sink.bodies())
	h.stop()
}

// TestCopyTruncateByNonAppendingWriterSkipsNULRun: a writer without O_APPEND
// keeps its offset after copytruncate, so the truncated file restarts with a
// hole of NUL bytes as long as the old file. The hole is not a record: the
// line written after it is delivered as is, even when the hole is longer
// than max_record_size (its tail would otherwise swallow that line).
func TestCopyTruncateByNonAppendingWriterSkipsNULRun(t *testing.T) {
	for _, lines := range []int{10, 1000} { // hole shorter and longer than max_record_size
		t.Run(pad6(lines), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendLines(t, path, "a", 0, lines)
			cfg := testConfig(dir)
			cfg.MaxRecordSize = 1024
			cfg.MaxBatchBytes = 4096
			h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
			for range 5 {
				h.pass() // read it all: 4096 bytes per pass
			}
			require.Len(t, h.sink.bodies(), lines)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, 0))
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("b-000000\nb-000001\n"), fi.Size())
			require.NoError(t, err)
			require.NoError(t, f.Close())
			for range 5 {
				h.pass()
			}
			bodies := h.sink.bodies()
			assert.Equal(t, 0, expectLines(t, bodies, "a", lines))
			assert.Equal(t, 0, expectLines(t, bodies, "b", 2))
			assert.Len(t, bodies, lines+2, "no record made of the NUL hole")
			assert.Equal(t, fi.Size()+18, h.saved(path))
			h.stop()
		})
	}
}

// TestStartAtEndAppliesToFilesBeyondMaxOpenFiles: at the very first start
// with start_at end, a file that cannot be opened yet (max_open_files) must
// still have its existing content skipped when it is opened later, also
// after a restart in between; what it gains after the start is read.
func TestStartAtEndAppliesToFilesBeyondMaxOpenFiles(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "restarted"}[restart], func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.MaxOpenFiles = 1
			cfg.StartAt = StartAtEnd
			appendLines(t, filepath.Join(dir, "a.log"), "a", 0, 5)
			appendLines(t, filepath.Join(dir, "b.log"), "b", 0, 5)
			h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
			h.pass()
			require.Equal(t, 1, len(h.tailer.files))
			appendLines(t, filepath.Join(dir, "b.log"), "b", 5, 8)
			if restart {
				h.stop()
				h.start()
			}
			for range 3 {
				h.clock.advance(cfg.CloseInactive)
				h.pass()
			}
			bodies := h.sink.bodies()
			assert.Equal(t, 0, expectLinesFrom(t, bodies, "b", 5, 8))
			assert.Len(t, bodies, 3, "content present at the first start is skipped")
			h.stop()
		})
	}
}

// TestMultilineFramesContainerStreamsApart: a stderr line between a stdout
// exception header and its stack frames must not take the frames.
func TestMultilineFramesContainerStreamsApart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	appendRaw(t, path,
		"2024-05-01T12:00:00Z stdout F java.lang.IllegalStateException: boom\n"+
			"2024-05-01T12:00:01Z stderr F unrelated stderr line\n"+
			"2024-05-01T12:00:02Z stdout F \tat com.example.Foo.bar(Foo.java:10)\n"+
			"2024-05-01T12:00:03Z stdout F next record\n")
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	cfg.Multiline.Preset = "java"
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Equal(t, []string{"java.lang.IllegalStateException: boom\n\tat com.example.Foo.bar(Foo.java:10)"}, sink.bodies())
	assert.Equal(t, int64(len("2024-05-01T12:00:00Z stdout F java.lang.IllegalStateException: boom\n")), h.saved(path),
		"the checkpoint stays before the pending stderr record")
	h.clock.advance(cfg.Multiline.FlushTimeout)
	h.pass()
	require.ElementsMatch(t, []string{
		"java.lang.IllegalStateException: boom\n\tat com.example.Foo.bar(Foo.java:10)",
		"unrelated stderr line", "next record",
	}, sink.bodies())
	for _, r := range sink.records {
		want := "stdout"
		if r.Body().AsString() == "unrelated stderr line" {
			want = "stderr"
		}
		assert.Equal(t, want, attr(r, attrIOStream))
	}
	h.stop()
}

// TestCRIPartialChunkWithoutFinalIsFlushedAfterTimeout: a container that
// stalls or dies mid-line leaves a P chunk whose F never comes; it must not
// wait until the file is released (in Kubernetes, until the pod is deleted).
func TestCRIPartialChunkWithoutFinalIsFlushedAfterTimeout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	first := "2024-05-01T12:00:00Z stdout F whole\n"
	chunk := "2024-05-01T12:00:01Z stdout P panic: out of mem\n"
	appendRaw(t, path, first+chunk)
	cfg := testConfig(dir)
	cfg.Format = FormatCRI
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Equal(t, []string{"whole"}, sink.bodies(), "the chunk may still be continued")
	assert.Equal(t, int64(len(first)), h.saved(path))
	h.clock.advance(cfg.Multiline.FlushTimeout)
	h.pass()
	assert.Equal(t, []string{"whole", "panic: out of mem"}, sink.bodies())
	assert.Equal(t, int64(len(first+chunk)), h.saved(path), "the checkpoint passes the flushed chunk")
	// A final chunk coming after all is a line of its own.
	appendRaw(t, path, "2024-05-01T12:00:09Z stdout F ory\n")
	h.pass()
	assert.Equal(t, []string{"whole", "panic: out of mem", "ory"}, sink.bodies())
	h.stop()
}
