package filetailreceiver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/ack"
)

// holdingSink accepts batches but holds their acknowledgement, as
// tail_sampling does until a request is decided.
type holdingSink struct {
	recordingSink
	hmu  sync.Mutex
	held []*ack.Batch
}

func (s *holdingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if err := s.recordingSink.ConsumeLogs(ctx, ld); err != nil {
		return err
	}
	if b := ack.FromContext(ctx); b != nil {
		b.Hold()
		s.hmu.Lock()
		s.held = append(s.held, b)
		s.hmu.Unlock()
	}
	return nil
}

func (s *holdingSink) releaseAll(err error) (cancelled int) {
	s.hmu.Lock()
	held := s.held
	s.held = nil
	s.hmu.Unlock()
	for _, b := range held {
		if b.Cancelled() {
			cancelled++
		}
		b.Release(err)
	}
	return cancelled
}

func TestOffsetsWaitForHeldRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 50)
	cfg := testConfig(dir)
	sink := &holdingSink{}
	store := fileStore(t)
	h := newHarness(t, cfg, &sink.recordingSink, store)
	h.tailer.next = sink
	h.pass()
	require.Equal(t, 50, sink.count())
	h.tailer.maybeSave(context.Background(), h.clock.now(), true)
	assert.LessOrEqual(t, h.saved(path), int64(0), "held lines are not acknowledged")

	sink.releaseAll(nil)
	appendLines(t, path, "a", 50, 60)
	h.pass() // applies the finished delivery; the new lines are held again
	h.tailer.maybeSave(context.Background(), h.clock.now(), true)
	assert.Equal(t, int64(50*len("a-000000\n")), h.saved(path), "offset advanced to what was released")
	h.stop()
	assert.Equal(t, 1, sink.releaseAll(nil), "shutdown cancels what is still held")
}

func TestHeldRecordsAreReadAgainAfterACrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 40)
	cfg := testConfig(dir)
	sink := &holdingSink{}
	store := fileStore(t)
	h := newHarness(t, cfg, &sink.recordingSink, store)
	h.tailer.next = sink
	h.pass()
	h.tailer.maybeSave(context.Background(), h.clock.now(), true)
	h.crash() // kill -9 while tail_sampling held the lines
	sink.releaseAll(ack.ErrAbandoned)

	h.start()
	h.tailer.next = sink
	h.pass()
	assert.Equal(t, 0, expectLines(t, sink.bodies()[40:], "a", 40), "every held line is read again")
	sink.releaseAll(nil)
	h.stop()
}

func TestHeldRecordsFailingDownstreamAreCountedRejected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 20)
	cfg := testConfig(dir)
	sink := &holdingSink{}
	h := newHarness(t, cfg, &sink.recordingSink, fileStore(t))
	h.tailer.next = sink
	h.pass()
	sink.releaseAll(errors.New("exporter gave up"))
	h.pass()
	assert.Equal(t, int64(20), h.metric("otelcol_file_tail_records_rejected"))
	h.stop()
}

// An offset recorded for a delivery still held when the file is truncated
// belongs to the old content: released later, it must not move the new
// content's offset past lines not yet delivered.
func TestHeldOffsetDoesNotSurviveTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 100)
	sink := &holdingSink{}
	store := fileStore(t)
	h := newHarness(t, testConfig(dir), &sink.recordingSink, store)
	h.tailer.next = sink
	h.pass() // 100 lines held
	require.NoError(t, os.Truncate(path, 0))
	appendLines(t, path, "b", 0, 5)
	h.pass() // truncation seen: the file restarts at 0 and "b" lines are read (held too)
	held := len(sink.held)
	sink.hmu.Lock()
	first := sink.held[0]
	sink.held = sink.held[1:]
	sink.hmu.Unlock()
	first.Release(nil) // only the old content's delivery finishes
	h.pass()
	h.tailer.maybeSave(context.Background(), h.clock.now(), true)
	assert.Greater(t, held, 1)
	assert.LessOrEqual(t, h.saved(path), int64(0), "the old content's offset is not applied to the new content")
	sink.releaseAll(nil)
	h.stop()
}
