package tailsamplingprocessor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/ack"
)

// A permanent refusal will be refused again: failing the receiver's batch
// with it makes kafka_group read the same records again forever (its
// synchronous path skips permanent errors). The records are counted as
// send_failed and the batch finishes.
func TestPermanentSendErrorFinishesTheBatchWithoutRedelivery(t *testing.T) {
	f, set, tel := newTestFactory(t)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	p, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewErr(consumererror.NewPermanent(errors.New("mapping conflict"))))
	require.NoError(t, err)
	rb := newReceiverBatch()
	require.NoError(t, p.ConsumeLogs(ack.NewContext(context.Background(), rb.Batch), logs(tid(1), 3)))
	rb.Release(nil)
	require.NoError(t, p.Shutdown(context.Background()))
	done, got := rb.outcome()
	assert.True(t, done)
	assert.NoError(t, got, "a permanent refusal must not ask for redelivery")
	assert.Equal(t, map[string]int64{"signal=logs": 3}, metricPoints(t, tel, "processor_tail_sampling_records_send_failed"))
}

// When one pipeline refuses permanently and another transiently, the
// transient error must reach the batch (its records can be read again).
func TestRetryableSendErrorWinsOverPermanentOne(t *testing.T) {
	f, set, _ := newTestFactory(t)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	down := errors.New("down")
	lp, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewErr(consumererror.NewPermanent(errors.New("bad"))))
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewErr(down))
	require.NoError(t, err)
	rb := newReceiverBatch()
	ctx := ack.NewContext(context.Background(), rb.Batch)
	require.NoError(t, lp.ConsumeLogs(ctx, logs(tid(1), 2)))
	require.NoError(t, tp.ConsumeTraces(ctx, spans(tid(1), 2)))
	rb.Release(nil)
	require.NoError(t, lp.Shutdown(context.Background()))
	require.NoError(t, tp.Shutdown(context.Background()))
	done, got := rb.outcome()
	assert.True(t, done)
	assert.ErrorIs(t, got, down)
}

// attribute.values are strings from YAML; an int/double/bool attribute with
// the same text must match (values: ["503"] vs http.status_code: 503).
func TestAttributeValuesMatchNonStringAttributes(t *testing.T) {
	h := newHarness(t, baseConfig(
		PolicyConfig{Name: "codes", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "code", Values: []string{"503", "true", "1.5"}}},
		PolicyConfig{Name: "re", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "port", Regex: "^80[0-9]{2}$"}},
	))
	h.consumeLogs(logs(tid(1), 1, func(lr plog.LogRecord) { lr.Attributes().PutInt("code", 503) }))
	h.consumeLogs(logs(tid(2), 1, func(lr plog.LogRecord) { lr.Attributes().PutBool("code", true) }))
	h.consumeLogs(logs(tid(3), 1, func(lr plog.LogRecord) { lr.Attributes().PutDouble("code", 1.5) }))
	h.consumeLogs(logs(tid(4), 1, func(lr plog.LogRecord) { lr.Attributes().PutInt("code", 200) }))
	h.consumeTraces(spans(tid(5), 1, func(s ptrace.Span) { s.Attributes().PutInt("port", 8080) }))
	h.tick(10 * time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 1, tid(2): 1, tid(3): 1}, emittedLogs(h.logSink))
	assert.Equal(t, map[pcommon.TraceID]int{tid(5): 1}, emittedSpans(h.traceSink))
}

// An empty record attribute must not hide the resource attribute of the
// same name (nor the next configured name).
func TestEmptyCorrelationAttributeFallsBackToResource(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.CorrelationAttributes = []string{"request_id"}
	h := newHarness(t, cfg)
	ld := plog.NewLogs()
	for i, sev := range []plog.SeverityNumber{plog.SeverityNumberInfo, plog.SeverityNumberInfo} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("request_id", "req-1")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetSeverityNumber(sev)
		lr.Body().SetStr("line")
		if i == 1 {
			lr.Attributes().PutStr("request_id", "")
		}
	}
	h.consumeLogs(ld)
	assert.Equal(t, 1, h.s.groupCount(), "one request, one group")
	assert.Empty(t, h.metric("processor_tail_sampling_records_ungrouped"), "the record has a correlation value")
	h.tick(10 * time.Second)
	assert.Empty(t, emittedLogs(h.logSink), "the request is dropped whole")
}

// Buffered bytes must come back to zero once every group is decided, in
// every path that changes them.
func TestBufferedBytesReturnToZeroAcrossPaths(t *testing.T) {
	cfg := baseConfig(errorsPolicy(),
		PolicyConfig{Name: "quiet", Type: policyPerKeyMinimum, Decision: decisionKeep, PerKeyMinimum: PerKeyMinimumConfig{
			Keys: []string{"service.name", "http.route"}, MinGroups: 1, Interval: time.Minute, MaxKeys: 100,
		}})
	cfg.MaxBufferBytes = 1 << 20
	cfg.MaxGroupBytes = 1 << 20
	cfg.MaxGroupRecords = 7
	h := newHarness(t, cfg)
	big := strings.Repeat("x", 40000) // larger than a slab
	for i := range 200 {
		id := tid(uint64(i))
		td := ptrace.NewTraces()
		// Child first, root later: the route key is replaced.
		addSpan(td, "svc-a", id, 1, asChild(), withAttr("http.route", "/a"))
		addSpan(td, "svc-b", id, 2, withAttr("http.route", "/root-route-longer"))
		addSpan(td, "svc-c", id, 3, asChild())
		if i%10 == 0 {
			addSpan(td, "svc-d", id, 4, asChild(), withAttr("blob", big))
		}
		h.consumeTraces(td)
		h.consumeLogs(logs(id, 3))
		if i%3 == 0 {
			h.consumeLogs(logs(id, 5)) // over max_group_records: decided early, then late records
		}
		if i%50 == 0 {
			h.tick(2 * time.Second)
		}
	}
	rb := newReceiverBatch()
	h.deliver(rb, logs(tid(1000), 2))
	rb.Cancel()
	h.tick(20 * time.Second)
	h.s.mu.Lock()
	assert.Zero(t, h.s.buffered, "buffered bytes")
	assert.Zero(t, h.s.groups.Len())
	assert.Zero(t, h.s.log.Held())
	assert.Empty(t, h.s.headers.byHash)
	h.s.mu.Unlock()
}
