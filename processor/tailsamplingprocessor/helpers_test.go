package tailsamplingprocessor

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadatatest"
)

// fakeClock is the injected clock: tests move time, never sleep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is one processor instance serving a logs and a traces pipeline.
type harness struct {
	t         *testing.T
	clock     *fakeClock
	tel       *componenttest.Telemetry
	logs      processor.Logs
	traces    processor.Traces
	logSink   *consumertest.LogsSink
	traceSink *consumertest.TracesSink
	s         *sampler
}

func baseConfig(policies ...PolicyConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Policies = policies
	return cfg
}

func errorsPolicy() PolicyConfig {
	return PolicyConfig{Name: "errors", Type: policyErrors, Decision: decisionKeep, Errors: ErrorsConfig{
		MinSeverity: "error", SpanStatus: true, MinHTTPStatus: 500,
		HTTPStatusAttributes: []string{"http.response.status_code"},
	}}
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), tel: componenttest.NewTelemetry(), logSink: new(consumertest.LogsSink), traceSink: new(consumertest.TracesSink)}
	f := newFactory(h.clock.now)
	set := metadatatest.NewSettings(h.tel)
	var err error
	h.logs, err = f.CreateLogs(context.Background(), set, cfg, h.logSink)
	require.NoError(t, err)
	h.traces, err = f.CreateTraces(context.Background(), set, cfg, h.traceSink)
	require.NoError(t, err)
	h.s = h.logs.(*logsProcessor).s
	require.Same(t, h.s, h.traces.(*tracesProcessor).s, "one instance per component id")
	t.Cleanup(func() {
		require.NoError(t, h.logs.Shutdown(context.Background()))
		require.NoError(t, h.traces.Shutdown(context.Background()))
		require.NoError(t, h.tel.Shutdown(context.Background()))
	})
	return h
}

// tick moves the clock and runs the decision ticker once.
func (h *harness) tick(d time.Duration) {
	h.clock.advance(d)
	h.s.decideDue(context.Background())
}

func (h *harness) consumeLogs(ld plog.Logs) {
	h.t.Helper()
	ld.MarkReadOnly()
	require.NoError(h.t, h.logs.ConsumeLogs(context.Background(), ld))
}

func (h *harness) consumeTraces(td ptrace.Traces) {
	h.t.Helper()
	td.MarkReadOnly()
	require.NoError(h.t, h.traces.ConsumeTraces(context.Background(), td))
}

func (h *harness) metric(name string) map[string]int64 {
	h.t.Helper()
	return metricPoints(h.t, h.tel, name)
}

func (h *harness) hasGroup(id pcommon.TraceID) bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.groups.Get(groupKey(id)) != nil
}

// assertDrained checks that a shut-down sampler holds nothing and accounted
// every byte it took back.
func assertDrained(t *testing.T, s *sampler) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Zero(t, s.buffered, "buffered bytes")
	require.Zero(t, s.groups.Len(), "groups")
	require.Zero(t, s.log.Held(), "record log slabs")
	require.Empty(t, s.headers.byHash)
}

func tid(i uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], i*0x9E3779B97F4A7C15+1)
	binary.BigEndian.PutUint64(id[8:], i)
	return id
}

func sid(i uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], i+1)
	return id
}

type spanOpt func(ptrace.Span)

func withError() spanOpt { return func(s ptrace.Span) { s.Status().SetCode(ptrace.StatusCodeError) } }

func withDuration(d time.Duration) spanOpt {
	return func(s ptrace.Span) {
		s.SetStartTimestamp(pcommon.Timestamp(1_000_000_000))
		s.SetEndTimestamp(pcommon.Timestamp(1_000_000_000 + d))
	}
}

func withAttr(k, v string) spanOpt { return func(s ptrace.Span) { s.Attributes().PutStr(k, v) } }

func asChild() spanOpt { return func(s ptrace.Span) { s.SetParentSpanID(sid(999)) } }

// addSpan appends one span of trace id to td, in a resource named service.
func addSpan(td ptrace.Traces, service string, id pcommon.TraceID, n uint64, opts ...spanOpt) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(id)
	sp.SetSpanID(sid(n))
	sp.SetName("op")
	sp.Attributes().PutInt("n", int64(n))
	for _, o := range opts {
		o(sp)
	}
}

func spans(id pcommon.TraceID, count int, opts ...spanOpt) ptrace.Traces {
	td := ptrace.NewTraces()
	for i := range count {
		o := opts
		if i > 0 {
			o = append([]spanOpt{asChild()}, opts...)
		}
		addSpan(td, "api", id, uint64(i), o...)
	}
	return td
}

type logOpt func(plog.LogRecord)

func withSeverity(s plog.SeverityNumber) logOpt {
	return func(lr plog.LogRecord) { lr.SetSeverityNumber(s) }
}

func withLogAttr(k, v string) logOpt {
	return func(lr plog.LogRecord) { lr.Attributes().PutStr(k, v) }
}

func addLog(ld plog.Logs, id pcommon.TraceID, n uint64, opts ...logOpt) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTraceID(id)
	lr.Body().SetStr("line")
	lr.Attributes().PutInt("n", int64(n))
	for _, o := range opts {
		o(lr)
	}
}

func logs(id pcommon.TraceID, count int, opts ...logOpt) plog.Logs {
	ld := plog.NewLogs()
	for i := range count {
		addLog(ld, id, uint64(i), opts...)
	}
	return ld
}

// emittedSpans counts emitted spans per trace id.
func emittedSpans(sink *consumertest.TracesSink) map[pcommon.TraceID]int {
	out := map[pcommon.TraceID]int{}
	for _, td := range sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out[sp.TraceID()]++
				}
			}
		}
	}
	return out
}

// emittedLogs counts emitted log records per trace id (zero id for others).
func emittedLogs(sink *consumertest.LogsSink) map[pcommon.TraceID]int {
	out := map[pcommon.TraceID]int{}
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out[lr.TraceID()]++
				}
			}
		}
	}
	return out
}

// groupCount is the number of undecided groups.
func (s *sampler) groupCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups.Len()
}
