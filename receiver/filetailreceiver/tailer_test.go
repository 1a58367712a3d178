package filetailreceiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestReadsLinesWithAttributes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 10)
	appendRaw(t, path, "incomplete")
	h := newHarness(t, testConfig(dir), &recordingSink{}, fileStore(t))
	h.pass()

	bodies := h.sink.bodies()
	require.Len(t, bodies, 10, "the unterminated line waits for its newline")
	assert.Equal(t, "a-000000", bodies[0])
	lr := h.sink.records[0]
	path0, _ := lr.Attributes().Get(attrFilePath)
	name0, _ := lr.Attributes().Get(attrFileName)
	assert.Equal(t, path, path0.Str())
	assert.Equal(t, "app.log", name0.Str())
	assert.Equal(t, h.clock.now().UnixNano(), int64(lr.ObservedTimestamp()))
	assert.Equal(t, int64(90), h.saved(path), "checkpoint stops before the incomplete line")

	appendRaw(t, path, " now\n")
	h.pass()
	assert.Equal(t, "incomplete now", h.sink.bodies()[10])
	assert.Equal(t, int64(105), h.saved(path))
	assert.Equal(t, int64(11), h.metric("otelcol_file_tail_lines_read"))
	assert.Equal(t, int64(105), h.metric("otelcol_file_tail_bytes_read"))
	assert.Equal(t, int64(11), h.metric("otelcol_file_tail_records_emitted"))
	assert.Equal(t, int64(1), h.metric("otelcol_file_tail_files_open"))
	assert.Equal(t, int64(0), h.metric("otelcol_file_tail_commit_lag"))
	h.stop()
}

func TestStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.log")
	appendLines(t, old, "old", 0, 5)
	cfg := testConfig(dir)
	cfg.StartAt = StartAtEnd
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	h.pass()
	assert.Empty(t, h.sink.bodies(), "existing content is skipped")

	appendLines(t, old, "old", 5, 7)
	appendLines(t, filepath.Join(dir, "new.log"), "new", 0, 3)
	h.pass()
	bodies := h.sink.bodies()
	assert.ElementsMatch(t, []string{"old-000005", "old-000006", "new-000000", "new-000001", "new-000002"}, bodies,
		"files found after start-up are read from their beginning")
	h.stop()
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 100)
	store := fileStore(t)
	cfg := testConfig(dir)
	cfg.StartAt = StartAtEnd // a checkpoint wins over start_at
	h := newHarness(t, cfg, &recordingSink{}, store)
	h.pass()
	appendLines(t, path, "a", 100, 150)
	h.pass()
	h.stop()
	require.Equal(t, 50, h.sink.count())

	appendLines(t, path, "a", 150, 200)
	h.start()
	h.pass()
	assert.Equal(t, 100, h.sink.count(), "only the lines written after the checkpoint are read")
	assert.Equal(t, 0, expectLinesFrom(t, h.sink.bodies(), "a", 100, 200))
	h.stop()
}

func TestRefusedBatchIsRetriedNotSkipped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 20)
	refusals := 3
	sink := &recordingSink{}
	var savedDuringOutage []int64
	h := newHarness(t, testConfig(dir), sink, fileStore(t))
	sink.refuse = func(plog.Logs) error {
		savedDuringOutage = append(savedDuringOutage, h.saved(path))
		if refusals > 0 {
			refusals--
			return errRefused
		}
		return nil
	}
	h.pass()
	assert.Equal(t, []int64{-1, -1, -1, -1}, savedDuringOutage, "nothing is committed before the batch is accepted")
	assert.Equal(t, 0, expectLines(t, sink.bodies(), "a", 20), "the accepted batch is delivered once")
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, h.sleeps, "exponential backoff")
	assert.Equal(t, int64(3), h.metric("otelcol_file_tail_consume_retries"))
	assert.Equal(t, int64(20*9), h.saved(path))
	h.stop()
}

func TestBackoffIsCapped(t *testing.T) {
	dir := t.TempDir()
	appendLines(t, filepath.Join(dir, "app.log"), "a", 0, 1)
	refusals := 8
	sink := &recordingSink{refuse: func(plog.Logs) error {
		if refusals > 0 {
			refusals--
			return errRefused
		}
		return nil
	}}
	cfg := testConfig(dir)
	cfg.Retry = RetryConfig{InitialInterval: time.Second, MaxInterval: 5 * time.Second}
	h := newHarness(t, cfg, sink, fileStore(t))
	h.pass()
	assert.Equal(t, []time.Duration{1, 2, 4, 5, 5, 5, 5, 5}, func() []time.Duration {
		out := make([]time.Duration, len(h.sleeps))
		for i, d := range h.sleeps {
			out[i] = d / time.Second
		}
		return out
	}())
	h.stop()
}

func TestPermanentRefusalIsCountedAndSkipped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 5)
	sink := &recordingSink{refuse: func(plog.Logs) error { return consumererror.NewPermanent(errRefused) }}
	h := newHarness(t, testConfig(dir), sink, fileStore(t))
	h.pass()
	assert.Empty(t, h.sleeps, "permanent errors are not retried")
	assert.Equal(t, int64(5), h.metric("otelcol_file_tail_records_rejected"))
	assert.Equal(t, int64(45), h.saved(path))
	h.stop()
}

func TestMutatingConsumerRetriesPristineData(t *testing.T) {
	dir := t.TempDir()
	appendLines(t, filepath.Join(dir, "app.log"), "a", 0, 3)
	attempts := 0
	var firstAttempt, accepted []byte
	sink := &recordingSink{mutates: true}
	sink.refuse = func(ld plog.Logs) error {
		attempts++
		b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
		require.NoError(t, err)
		if attempts < 3 {
			if attempts == 1 {
				firstAttempt = b
			}
			// The consumer changes the batch before refusing it.
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			lrs.At(0).Body().SetStr("mangled")
			lrs.At(1).Attributes().PutStr("added", "x")
			lrs.RemoveIf(func(lr plog.LogRecord) bool { return lr.Body().Str() == "a-000002" })
			return errRefused
		}
		accepted = b
		return nil
	}
	h := newHarness(t, testConfig(dir), sink, fileStore(t))
	h.pass()
	assert.Equal(t, []string{"a-000000", "a-000001", "a-000002"}, sink.bodies())
	// Every field of the retried batch, timestamps and file attributes
	// included, is what the first attempt carried.
	assert.Equal(t, 3, attempts)
	assert.JSONEq(t, string(firstAttempt), string(accepted))
	h.stop()
}

// TestShutdownDuringOutageLosesNothing stops the receiver while the next
// consumer refuses everything, then restarts it with a healthy consumer.
func TestShutdownDuringOutageLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "a", 0, 50)
	sink := &recordingSink{refuse: func(plog.Logs) error { return errRefused }}
	store := fileStore(t)
	h := newHarness(t, testConfig(dir), sink, store)
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	h.tailer.sleep = func(ctx context.Context, _ time.Duration) error {
		if attempts++; attempts == 5 {
			cancel() // Shutdown arrives during the outage
		}
		return ctx.Err()
	}
	require.ErrorIs(t, h.tailer.pass(ctx), context.Canceled)
	h.stop()
	assert.Equal(t, int64(0), h.saved(path), "nothing acknowledged, nothing committed")

	sink.refuse = nil
	h.start()
	h.pass()
	assert.Equal(t, 0, expectLines(t, sink.bodies(), "a", 50))
	h.stop()
}

// dieAt returns a refuse function that accepts batches and, at the n-th call,
// accepts the batch and then kills the agent: the store stops persisting,
// later deliveries fail and ctx is canceled, so the pass stops as a killed
// process would. It reports the records of that last accepted batch.
func dieAt(n int, store *crashableStore, cancel context.CancelFunc, inFlight *int, fail func() bool) func(plog.Logs) error {
	calls := 0
	return func(ld plog.Logs) error {
		if store.dead {
			return errRefused
		}
		calls++
		if calls == n {
			*inFlight += ld.LogRecordCount()
			store.dead = true
			cancel()
			return nil
		}
		if fail != nil && fail() {
			return errRefused
		}
		return nil
	}
}

// TestCrashBeforeCommitRereadsOnlyTheUnacknowledgedBatch: the consumer keeps
// a batch but the process dies before the acknowledgement is recorded.
func TestCrashBeforeCommitRereadsOnlyTheUnacknowledgedBatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.MaxBatchRecords = 10
	store := fileStore(t)
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, store)
	total, inFlight := 0, 0
	for round := 0; round < 5; round++ {
		appendLines(t, path, "a", total, total+35)
		total += 35
		ctx, cancel := context.WithCancel(context.Background())
		sink.refuse = dieAt(3, store, cancel, &inFlight, nil)
		require.ErrorIs(t, h.tailer.pass(ctx), context.Canceled)
		cancel()
		h.crash()
		sink.refuse = nil
		h.start()
	}
	h.pass()
	dups := expectLines(t, sink.bodies(), "a", total)
	t.Logf("%d lines, %d duplicates after 5 crashes", total, dups)
	assert.Equal(t, inFlight, dups, "exactly the batch in flight at each crash is read again")
	assert.GreaterOrEqual(t, h.metric("otelcol_file_tail_reread_bytes"), int64(10*9), "the last restart read the in-flight batch again")
	h.stop()
}

// TestCrashWithFailingConsumerRandomized appends to two files, delivers
// through a consumer that fails at random and kills the agent at random
// points; no line may be lost and duplicates stay within the batches that
// were in flight at the crashes.
func TestCrashWithFailingConsumerRandomized(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")}
	cfg := testConfig(dir)
	cfg.MaxBatchRecords = 7
	store := fileStore(t)
	sink := &recordingSink{}
	h := newHarness(t, cfg, sink, store)
	seed := uint64(42)
	rnd := func(n int) int { // xorshift: deterministic, no global state
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return int(seed % uint64(n))
	}
	written := []int{0, 0}
	inFlight, crashes := 0, 0
	for round := 0; round < 40; round++ {
		for i, p := range paths {
			n := rnd(30)
			appendLines(t, p, string(rune('a'+i)), written[i], written[i]+n)
			written[i] += n
		}
		ctx, cancel := context.WithCancel(context.Background())
		sink.refuse = dieAt(1+rnd(8), store, cancel, &inFlight, func() bool { return rnd(3) == 0 })
		h.clock.advance(h.cfg.ScanInterval)
		_ = h.tailer.pass(ctx)
		if store.dead {
			crashes++
			h.crash()
			h.start()
		}
		cancel()
	}
	sink.refuse = nil
	h.pass()
	dups := expectLines(t, sink.bodies(), "a", written[0]) + expectLines(t, sink.bodies(), "b", written[1])
	t.Logf("%d lines written, %d crashes, %d duplicates, %d records were in flight at crashes", written[0]+written[1], crashes, dups, inFlight)
	require.Positive(t, crashes)
	assert.LessOrEqual(t, dups, inFlight, "re-reads are bounded by what was unacknowledged")
	h.stop()
}

func TestCommitIntervalSpacesCheckpointWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.CommitInterval = 10 * time.Second
	cfg.ScanInterval = time.Second
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	appendLines(t, path, "a", 0, 10)
	h.pass() // the first save happens at once
	assert.Equal(t, int64(90), h.saved(path))
	appendLines(t, path, "a", 10, 20)
	h.pass()
	assert.Equal(t, int64(90), h.saved(path), "delivered, but the write waits for commit_interval")
	h.clock.advance(cfg.CommitInterval)
	h.pass()
	assert.Equal(t, int64(180), h.saved(path))
	appendLines(t, path, "a", 20, 21)
	h.pass()
	h.stop()
	assert.Equal(t, int64(189), h.saved(path), "shutdown saves what was acknowledged")
}

func TestReadLagAndFairnessBudget(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxRecordSize = 64
	cfg.MaxBatchBytes = 90 // ten 9-byte lines per file and pass
	h := newHarness(t, cfg, &recordingSink{}, fileStore(t))
	appendLines(t, filepath.Join(dir, "a.log"), "a", 0, 25)
	appendLines(t, filepath.Join(dir, "b.log"), "b", 0, 25)
	h.pass()
	assert.Equal(t, 20, h.sink.count(), "each file gets its share of the pass")
	assert.Equal(t, int64(2*15*9), h.metric("otelcol_file_tail_read_lag"), "bytes not yet read, summed over files")
	h.pass()
	h.pass()
	assert.Equal(t, int64(0), h.metric("otelcol_file_tail_read_lag"))
	assert.Equal(t, 0, expectLines(t, h.sink.bodies(), "a", 25)+expectLines(t, h.sink.bodies(), "b", 25))
	h.stop()
}
