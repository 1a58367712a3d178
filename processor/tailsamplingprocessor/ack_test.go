package tailsamplingprocessor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/ack"
)

// receiverBatch stands for a replaying receiver's batch: it records when and
// how the batch finished.
type receiverBatch struct {
	*ack.Batch
	mu   sync.Mutex
	done bool
	err  error
}

func newReceiverBatch() *receiverBatch {
	rb := &receiverBatch{}
	rb.Batch = ack.NewBatch(func(err error) {
		rb.mu.Lock()
		rb.done, rb.err = true, err
		rb.mu.Unlock()
	})
	return rb
}

func (rb *receiverBatch) outcome() (bool, error) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.done, rb.err
}

// deliver hands ld over as a receiver does: in the batch's context, then
// releases its own hold.
func (h *harness) deliver(rb *receiverBatch, ld plog.Logs) {
	h.t.Helper()
	err := h.logs.ConsumeLogs(ack.NewContext(context.Background(), rb.Batch), ld)
	rb.Release(err)
	require.NoError(h.t, err)
}

func TestBatchFinishesWhenItsGroupsAreDecided(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	kept, dropped := tid(1), tid(2)
	first, second := newReceiverBatch(), newReceiverBatch()

	ld := logs(kept, 2, withSeverity(plog.SeverityNumberError))
	addLog(ld, dropped, 9)
	h.deliver(first, ld)
	h.tick(5 * time.Second)
	h.deliver(second, logs(dropped, 1)) // a later batch adds to an undecided group

	done, _ := first.outcome()
	assert.False(t, done, "finished before its groups were decided")
	h.tick(5 * time.Second) // both groups are due
	done, err := first.outcome()
	assert.True(t, done)
	assert.NoError(t, err)
	done, err = second.outcome()
	assert.True(t, done, "a batch whose only group was sampled out is finished")
	assert.NoError(t, err)
	assert.Equal(t, map[pcommon.TraceID]int{kept: 2}, emittedLogs(h.logSink))
}

func TestFailedSendReachesTheBatch(t *testing.T) {
	f, set, _ := newTestFactory(t)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	down := errors.New("opensearch down")
	p, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewErr(down))
	require.NoError(t, err)
	rb := newReceiverBatch()
	require.NoError(t, p.ConsumeLogs(ack.NewContext(context.Background(), rb.Batch), logs(tid(1), 3)))
	rb.Release(nil)
	require.NoError(t, p.Shutdown(context.Background())) // decides and sends
	done, got := rb.outcome()
	assert.True(t, done)
	assert.ErrorIs(t, got, down)
}

func TestCancelledBatchIsAbandonedNotEmitted(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	moved, stays := tid(1), tid(2)
	gone, kept := newReceiverBatch(), newReceiverBatch()
	h.deliver(gone, logs(moved, 3, withSeverity(plog.SeverityNumberError)))
	h.deliver(kept, logs(stays, 2, withSeverity(plog.SeverityNumberError)))
	gone.Cancel() // its partition moved to another gateway

	h.tick(10 * time.Second)
	done, err := gone.outcome()
	assert.True(t, done)
	assert.ErrorIs(t, err, ack.ErrAbandoned)
	done, err = kept.outcome()
	assert.True(t, done)
	assert.NoError(t, err)
	assert.Equal(t, map[pcommon.TraceID]int{stays: 2}, emittedLogs(h.logSink), "abandoned records are not emitted")
	assert.Equal(t, map[string]int64{"signal=logs": 3}, h.metric("processor_tail_sampling_records_abandoned"))
	// Not remembered as decided: a redelivery is judged afresh.
	h.consumeLogs(logs(moved, 1, withSeverity(plog.SeverityNumberError)))
	assert.True(t, h.hasGroup(moved))
}

func TestLateRecordsSendFailureReachesTheBatch(t *testing.T) {
	f, set, _ := newTestFactory(t)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	sink := &failAfter{ok: 1, err: errors.New("refused")}
	p, err := f.CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	s := p.(*logsProcessor).s
	require.NoError(t, p.ConsumeLogs(context.Background(), logs(tid(1), 1)))
	s.decideAll(context.Background()) // kept and sent (ok)
	rb := newReceiverBatch()
	require.NoError(t, p.ConsumeLogs(ack.NewContext(context.Background(), rb.Batch), logs(tid(1), 1)))
	rb.Release(nil)
	done, got := rb.outcome()
	assert.True(t, done)
	assert.EqualError(t, got, "refused", "a late record sent and refused during the call")
}

type failAfter struct {
	consumertest.LogsSink
	mu  sync.Mutex
	ok  int
	err error
}

func (f *failAfter) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok == 0 {
		return f.err
	}
	f.ok--
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

func TestGroupWithUnreplayableRecordsIsNeverAbandoned(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	mixed := tid(7)
	fromKafka := newReceiverBatch()
	h.deliver(fromKafka, logs(mixed, 2, withSeverity(plog.SeverityNumberError)))
	h.consumeLogs(logs(mixed, 1)) // the same request, also over OTLP: no acknowledgement
	fromKafka.Cancel()
	h.tick(10 * time.Second)
	done, err := fromKafka.outcome()
	assert.True(t, done)
	assert.NoError(t, err, "decided and emitted, not abandoned")
	assert.Equal(t, map[pcommon.TraceID]int{mixed: 3}, emittedLogs(h.logSink), "the OTLP record is not lost")
}
