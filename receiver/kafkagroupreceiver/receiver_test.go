package kafkagroupreceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

const testTopic = "otlp"

func newCluster(t *testing.T, partitions int32) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, testTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testConfig(brokers []string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = brokers
	cfg.Topic = testTopic
	cfg.SessionTimeout = time.Second
	cfg.HeartbeatInterval = 100 * time.Millisecond
	cfg.CommitInterval = 50 * time.Millisecond
	cfg.RetryOnFailure.InitialInterval = 10 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 50 * time.Millisecond
	return cfg
}

// logsMessage is one Kafka message holding one log record tagged with id,
// in a trace of its own (as the kafka exporter keys them).
func logsMessage(t *testing.T, id int) *kgo.Record {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutInt("id", int64(id))
	lr.SetTraceID(traceID(id))
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return &kgo.Record{
		Topic: testTopic, Key: []byte(fmt.Sprint(id)), Value: b,
		Headers: []kgo.RecordHeader{{Key: DefaultSignalHeader, Value: []byte(SignalLogs)}},
	}
}

func spansMessage(t *testing.T, id int) *kgo.Record {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutInt("id", int64(id))
	sp.SetTraceID(traceID(id))
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return &kgo.Record{
		Topic: testTopic, Key: []byte(fmt.Sprint(id)), Value: b,
		Headers: []kgo.RecordHeader{{Key: DefaultSignalHeader, Value: []byte(SignalTraces)}},
	}
}

func traceID(id int) pcommon.TraceID {
	var t pcommon.TraceID
	t[0], t[15] = byte(id>>8), byte(id)
	return t
}

func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

// committed returns the group's committed offsets summed over partitions.
func committed(t *testing.T, brokers []string, group string) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		return -1
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum
}

func start(t *testing.T, cfg *Config, logs consumer.Logs, traces consumer.Traces) (stop func()) {
	t.Helper()
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, fmt.Sprint(time.Now().UnixNano()))
	var comps []component.Component
	if logs != nil {
		r, err := f.CreateLogs(context.Background(), set, cfg, logs)
		require.NoError(t, err)
		comps = append(comps, r)
	}
	if traces != nil {
		r, err := f.CreateTraces(context.Background(), set, cfg, traces)
		require.NoError(t, err)
		comps = append(comps, r)
	}
	for _, c := range comps {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, c := range comps {
				require.NoError(t, c.Shutdown(context.Background()))
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func ids(t *testing.T, sink *consumertest.LogsSink) map[int64]int {
	out := map[int64]int{}
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					v, _ := lrs.At(k).Attributes().Get("id")
					out[v.Int()]++
				}
			}
		}
	}
	return out
}

func TestDeliversBothSignalsAndCommits(t *testing.T) {
	brokers := newCluster(t, 4)
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, logsMessage(t, i), spansMessage(t, i))
	}
	produce(t, brokers, recs...)
	logs, traces := new(consumertest.LogsSink), new(consumertest.TracesSink)
	cfg := testConfig(brokers)
	start(t, cfg, logs, traces)
	require.Eventually(t, func() bool { return logs.LogRecordCount() == 200 && traces.SpanCount() == 200 },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 400 },
		10*time.Second, 20*time.Millisecond)
	assert.Len(t, ids(t, logs), 200)
}

// holdingLogs takes a hold on every batch and keeps it until released, as
// tail_sampling does while a request is undecided.
type holdingLogs struct {
	consumertest.LogsSink
	mu    sync.Mutex
	held  []*ack.Batch
	count int
}

func (h *holdingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if b := ack.FromContext(ctx); b != nil {
		b.Hold()
		h.mu.Lock()
		h.held = append(h.held, b)
		h.count += ld.LogRecordCount()
		h.mu.Unlock()
	}
	return h.LogsSink.ConsumeLogs(ctx, ld)
}

func (h *holdingLogs) releaseAll(err error) {
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, b := range held {
		b.Release(err)
	}
}

func (h *holdingLogs) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

func TestCommitsOnlyWhatDownstreamFinished(t *testing.T) {
	brokers := newCluster(t, 2)
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	h := &holdingLogs{}
	cfg := testConfig(brokers)
	start(t, cfg, h, nil)
	require.Eventually(t, func() bool { return h.received() == 50 }, 10*time.Second, 10*time.Millisecond)
	// Held: several commit intervals pass and nothing is committed.
	time.Sleep(5 * cfg.CommitInterval)
	assert.LessOrEqual(t, committed(t, brokers, cfg.GroupID), int64(0))
	h.releaseAll(nil)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 50 },
		10*time.Second, 20*time.Millisecond)
}

// A member that dies with records held gives them to the next member: every
// record is delivered by someone.
func TestHeldRecordsAreReadAgainByTheNextMember(t *testing.T) {
	brokers := newCluster(t, 4)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	cfg := testConfig(brokers)
	first := &holdingLogs{}
	stopFirst := start(t, cfg, first, nil)
	require.Eventually(t, func() bool { return first.received() == 100 }, 10*time.Second, 10*time.Millisecond)
	stopFirst() // leaves the group with everything still held: nothing finished
	assert.LessOrEqual(t, committed(t, brokers, cfg.GroupID), int64(0))

	second := new(consumertest.LogsSink)
	start(t, cfg, second, nil)
	require.Eventually(t, func() bool { return second.LogRecordCount() == 100 }, 15*time.Second, 10*time.Millisecond)
	assert.Len(t, ids(t, second), 100)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 100 },
		10*time.Second, 20*time.Millisecond)
	first.releaseAll(ack.ErrAbandoned) // late releases of a gone member change nothing
	assert.Equal(t, int64(100), committed(t, brokers, cfg.GroupID))
}

func TestFailedHeldBatchIsReadAgain(t *testing.T) {
	brokers := newCluster(t, 1)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	h := &holdingLogs{}
	cfg := testConfig(brokers)
	start(t, cfg, h, nil)
	require.Eventually(t, func() bool { return h.received() == 20 }, 10*time.Second, 10*time.Millisecond)
	h.releaseAll(errors.New("exporter gave up"))
	// Read again from the first unfinished record, then finished.
	require.Eventually(t, func() bool { return h.received() == 40 }, 10*time.Second, 10*time.Millisecond)
	h.releaseAll(nil)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 20 },
		10*time.Second, 20*time.Millisecond)
}

// refusingLogs refuses the first n calls with a retryable error
// (memory_limiter) and then one call with a permanent error.
type refusingLogs struct {
	consumertest.LogsSink
	mu        sync.Mutex
	retryable int
	permanent int
}

func (r *refusingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retryable > 0 {
		r.retryable--
		return errors.New("memory limit reached")
	}
	if r.permanent > 0 {
		r.permanent--
		return consumererror.NewPermanent(errors.New("mapping conflict"))
	}
	return r.LogsSink.ConsumeLogs(ctx, ld)
}

func TestRetryableRefusalIsRetried(t *testing.T) {
	brokers := newCluster(t, 1)
	produce(t, brokers, logsMessage(t, 1), logsMessage(t, 2))
	sink := &refusingLogs{retryable: 3}
	cfg := testConfig(brokers)
	start(t, cfg, sink, nil)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 2 }, 10*time.Second, 20*time.Millisecond)
}

func TestUndeliverableMessagesAreSkippedAndCounted(t *testing.T) {
	brokers := newCluster(t, 1)
	noHeader := logsMessage(t, 1)
	noHeader.Headers = nil
	garbage := logsMessage(t, 2)
	garbage.Value = []byte{0xff, 0xff, 0xff}
	produce(t, brokers, noHeader, garbage, logsMessage(t, 3), logsMessage(t, 4))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &refusingLogs{}
	cfg := testConfig(brokers)
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 4 }, 10*time.Second, 20*time.Millisecond)
	got := ids(t, &sink.LogsSink)
	assert.Equal(t, map[int64]int{3: 1, 4: 1}, got)
	m, err := tel.GetMetric("otelcol_kafka_group_messages_dead_lettered")
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(m), "unknown_signal")
	assert.Contains(t, fmt.Sprint(m), "undecodable")
}

func TestNoBrokersIsIdle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = []string{""}
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()))
}

func TestShutdownWithoutStart(t *testing.T) {
	var r receiver.Logs
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), testConfig([]string{"127.0.0.1:1"}), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()))
}

// alwaysRefusing refuses every call with a retryable error, as a
// memory_limiter under lasting pressure does.
type alwaysRefusing struct{ calls atomic.Int64 }

func (*alwaysRefusing) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (a *alwaysRefusing) ConsumeLogs(context.Context, plog.Logs) error {
	a.calls.Add(1)
	return errors.New("memory limit reached")
}

// A member retrying a refused batch does not hold up a rebalance until
// rebalance_timeout (and then get kicked from the group): it leaves the batch
// to be read again, and a new member gets its share of the partitions.
func TestRetryingMemberDoesNotBlockRebalance(t *testing.T) {
	brokers := newCluster(t, 4)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	cfg := testConfig(brokers)
	cfg.RebalanceTimeout = 30 * time.Second
	cfg.RetryOnFailure.InitialInterval = 200 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = time.Second
	refusing := &alwaysRefusing{}
	start(t, cfg, refusing, nil)
	require.Eventually(t, func() bool { return refusing.calls.Load() > 2 }, 10*time.Second, 10*time.Millisecond)

	second := new(consumertest.LogsSink)
	start(t, cfg, second, nil)
	// Blocked, the rebalance would wait for rebalance_timeout (30 s).
	require.Eventually(t, func() bool { return second.LogRecordCount() > 0 }, 10*time.Second, 20*time.Millisecond,
		"the new member got no partition while the other retried")
}
