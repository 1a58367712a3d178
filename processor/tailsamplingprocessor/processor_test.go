package tailsamplingprocessor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadatatest"
)

// newTestFactory returns a factory on a fake clock and settings whose
// metrics land in tel.
func newTestFactory(t *testing.T) (processor.Factory, processor.Settings, *componenttest.Telemetry) {
	f := newFactory(newFakeClock().now)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	return f, set, tel
}

// metricPoints reads an int64 sum as "k=v,k=v" -> value.
func metricPoints(t *testing.T, tt *componenttest.Telemetry, name string) map[string]int64 {
	t.Helper()
	m, err := tt.GetMetric("otelcol_" + name)
	if err != nil {
		return map[string]int64{}
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is not an int64 sum", name)
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		var kv []string
		for _, a := range dp.Attributes.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		sort.Strings(kv)
		out[strings.Join(kv, ",")] = dp.Value
	}
	return out
}

func TestSharedByComponentID(t *testing.T) {
	f := NewFactory()
	cfg := baseConfig(errorsPolicy())
	set := processortest.NewNopSettings(metadata.Type)
	l, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	tr, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	other := set
	other.ID = component.MustNewIDWithName(metadata.Type.String(), "other")
	o, err := f.CreateTraces(context.Background(), other, cfg, consumertest.NewNop())
	require.NoError(t, err)

	assert.Same(t, l.(*logsProcessor).s, tr.(*tracesProcessor).s)
	assert.NotSame(t, l.(*logsProcessor).s, o.(*tracesProcessor).s)

	for _, c := range []component.Component{l, tr, o} {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	for _, c := range []component.Component{l, tr, o} {
		require.NoError(t, c.Shutdown(context.Background()))
		require.NoError(t, c.Shutdown(context.Background()), "shutdown is idempotent")
	}
	// Released by every pipeline: a new pipeline gets a fresh instance.
	l2, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.NotSame(t, l.(*logsProcessor).s, l2.(*logsProcessor).s)
	require.NoError(t, l2.Shutdown(context.Background()))
}

func TestInvalidConfigFailsAtCreate(t *testing.T) {
	f := NewFactory()
	cfg := baseConfig(PolicyConfig{Name: "p", Type: policyProbabilistic, Decision: decisionKeep})
	_, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.EqualError(t, err, "policies[0].probabilistic.percentage: must be in (0, 100], got 0")
}

// A request kept because a span failed keeps its logs, and the reverse.
func TestOneDecisionAcrossLogsAndSpans(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	spanErr, logErr, clean := tid(1), tid(2), tid(3)

	h.consumeTraces(spans(spanErr, 3, withError()))
	h.consumeLogs(logs(spanErr, 2))
	h.consumeTraces(spans(logErr, 3))
	h.consumeLogs(logs(logErr, 1, withSeverity(plog.SeverityNumberError)))
	h.consumeTraces(spans(clean, 4))
	h.consumeLogs(logs(clean, 2, withSeverity(plog.SeverityNumberWarn)))

	h.tick(9 * time.Second)
	assert.Empty(t, h.traceSink.AllTraces(), "nothing is decided before decision_wait")
	assert.Empty(t, h.logSink.AllLogs())

	h.tick(time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{spanErr: 3, logErr: 3}, emittedSpans(h.traceSink))
	assert.Equal(t, map[pcommon.TraceID]int{spanErr: 2, logErr: 1}, emittedLogs(h.logSink))

	assert.Equal(t, map[string]int64{
		"decision=kept,policy=errors":              2,
		"decision=dropped,policy=default_decision": 1,
	}, h.metric("processor_tail_sampling_groups_decided"))
	assert.Equal(t, map[string]int64{
		"decision=kept,signal=traces":    6,
		"decision=dropped,signal=traces": 4,
		"decision=kept,signal=logs":      3,
		"decision=dropped,signal=logs":   2,
	}, h.metric("processor_tail_sampling_records_sampled"))
	assert.Equal(t, map[string]int64{"signal=traces": 10, "signal=logs": 5}, h.metric("processor_tail_sampling_records_received"))
	assert.Equal(t, map[string]int64{"": 0}, h.metric("processor_tail_sampling_groups_active"))
	assert.Equal(t, map[string]int64{"": 0}, h.metric("processor_tail_sampling_buffered_bytes"))
}

func TestLateRecordsFollowTheDecision(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.PolicyAttribute = "sampling.policy"
	h := newHarness(t, cfg)
	kept, dropped := tid(1), tid(2)
	h.consumeTraces(spans(kept, 2, withError()))
	h.consumeTraces(spans(dropped, 2))
	h.tick(cfg.DecisionWait)
	require.Equal(t, map[pcommon.TraceID]int{kept: 2}, emittedSpans(h.traceSink))

	// Late records: forwarded at once when kept (no new wait), dropped otherwise.
	h.consumeLogs(logs(kept, 3))
	h.consumeLogs(logs(dropped, 4, withSeverity(plog.SeverityNumberFatal)))
	h.consumeTraces(spans(dropped, 1, withError()))
	assert.Equal(t, map[pcommon.TraceID]int{kept: 3}, emittedLogs(h.logSink))
	assert.Equal(t, map[pcommon.TraceID]int{kept: 2}, emittedSpans(h.traceSink))
	for _, ld := range h.logSink.AllLogs() {
		lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		v, ok := lr.Attributes().Get("sampling.policy")
		require.True(t, ok)
		assert.Equal(t, "errors", v.Str(), "late records carry the deciding policy")
	}
	assert.Equal(t, map[string]int64{
		"decision=kept,signal=logs":      3,
		"decision=dropped,signal=logs":   4,
		"decision=dropped,signal=traces": 1,
	}, h.metric("processor_tail_sampling_late_records"))
	assert.False(t, h.hasGroup(tid(2)), "late records of a dropped group start no new group")
}

func TestPolicyAttributeOnKeptRecords(t *testing.T) {
	cfg := baseConfig(errorsPolicy(), PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.PolicyAttribute = "sampling.policy"
	h := newHarness(t, cfg)
	h.consumeTraces(spans(tid(1), 2, withError()))
	h.consumeTraces(spans(tid(2), 2))
	h.tick(cfg.DecisionWait)
	got := map[pcommon.TraceID]string{}
	for _, td := range h.traceSink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					v, _ := sp.Attributes().Get("sampling.policy")
					got[sp.TraceID()] = v.Str()
					_, hasN := sp.Attributes().Get("n")
					assert.True(t, hasN, "original attributes are kept")
				}
			}
		}
	}
	assert.Equal(t, map[pcommon.TraceID]string{tid(1): "errors", tid(2): "all"}, got)
}

func TestCorrelationAttributeGroupsLogs(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.CorrelationAttributes = []string{"correlation_id", "request_id"}
	h := newHarness(t, cfg)
	ld := plog.NewLogs()
	addLog(ld, pcommon.TraceID{}, 1, withLogAttr("request_id", "r-1"))
	addLog(ld, pcommon.TraceID{}, 2, withLogAttr("correlation_id", "r-1"), withSeverity(plog.SeverityNumberError))
	addLog(ld, pcommon.TraceID{}, 3, withLogAttr("request_id", "r-2"))
	addLog(ld, pcommon.TraceID{}, 4) // no key: passes through at once
	h.consumeLogs(ld)
	assert.Equal(t, 1, h.logSink.LogRecordCount(), "ungrouped record passes through")
	h.tick(cfg.DecisionWait)
	assert.Equal(t, 3, h.logSink.LogRecordCount(), "both r-1 records kept, r-2 dropped")
	var ns []int64
	for _, l := range h.logSink.AllLogs() {
		for _, rl := range l.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					n, _ := lr.Attributes().Get("n")
					ns = append(ns, n.Int())
				}
			}
		}
	}
	assert.ElementsMatch(t, []int64{4, 1, 2}, ns)
	assert.Equal(t, map[string]int64{"outcome=passed,signal=logs": 1}, h.metric("processor_tail_sampling_records_ungrouped"))
}

func TestUngroupedPassThroughIsUnchanged(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	ld := plog.NewLogs()
	addLog(ld, pcommon.TraceID{}, 1)
	h.consumeLogs(ld)
	require.Len(t, h.logSink.AllLogs(), 1)
	assert.Equal(t, ld, h.logSink.AllLogs()[0], "batches without group keys are forwarded as they are")
}

func TestUngroupedSampling(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.Ungrouped = UngroupedConfig{Action: ungroupedSample, SamplingPercentage: 25}
	h := newHarness(t, cfg)
	const n = 20_000
	ld := plog.NewLogs()
	for i := range n {
		addLog(ld, pcommon.TraceID{}, uint64(i))
	}
	h.consumeLogs(ld)
	kept := h.logSink.LogRecordCount()
	assert.InDelta(t, 0.25, float64(kept)/n, 0.02)
	assert.Equal(t, map[string]int64{
		"outcome=kept,signal=logs":    int64(kept),
		"outcome=dropped,signal=logs": int64(n - kept),
	}, h.metric("processor_tail_sampling_records_ungrouped"))
}

func TestShutdownDecidesEverythingPending(t *testing.T) {
	cfg := baseConfig(errorsPolicy(), PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	f, set, tel := newTestFactory(t)
	logSink, traceSink := new(consumertest.LogsSink), new(consumertest.TracesSink)
	lp, err := f.CreateLogs(context.Background(), set, cfg, logSink)
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), set, cfg, traceSink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))

	require.NoError(t, tp.ConsumeTraces(context.Background(), spans(tid(1), 3)))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logs(tid(1), 2)))

	// The traces pipeline stops first: everything pending is emitted to both.
	require.NoError(t, tp.Shutdown(context.Background()))
	assert.Equal(t, 3, traceSink.SpanCount())
	assert.Equal(t, 2, logSink.LogRecordCount())

	// The logs pipeline still runs: its late and new records are decided on arrival.
	require.NoError(t, lp.ConsumeLogs(context.Background(), logs(tid(1), 1)))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logs(tid(2), 1)))
	assert.Equal(t, 4, logSink.LogRecordCount())
	require.NoError(t, lp.Shutdown(context.Background()))

	got := metricPoints(t, tel, "processor_tail_sampling_early_decisions")
	assert.Equal(t, map[string]int64{"reason=shutdown": 2}, got)
}

func TestShutdownWithoutStart(t *testing.T) {
	f := NewFactory()
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), baseConfig(errorsPolicy()), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestStartedTickerDecides(t *testing.T) {
	// The real ticker with the fake clock: decisions happen once the clock says so.
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.DecisionWait = 50 * time.Millisecond // ticker period 10 ms
	h := newHarness(t, cfg)
	require.NoError(t, h.traces.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, h.logs.Start(context.Background(), componenttest.NewNopHost()))
	h.consumeTraces(spans(tid(1), 2))
	h.clock.advance(time.Minute)
	require.Eventually(t, func() bool { return h.traceSink.SpanCount() == 2 }, 10*time.Second, 5*time.Millisecond)
}

func TestGroupLimitsDecideEarly(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.MaxGroupRecords = 3
	h := newHarness(t, cfg)
	h.consumeTraces(spans(tid(1), 2))
	assert.Zero(t, h.traceSink.SpanCount())
	h.consumeTraces(spans(tid(1), 1))
	assert.Equal(t, 3, h.traceSink.SpanCount(), "decided on reaching max_group_records")
	h.consumeTraces(spans(tid(1), 1))
	assert.Equal(t, 4, h.traceSink.SpanCount(), "later records follow the decision")
	assert.Equal(t, map[string]int64{"reason=max_group_records": 1}, h.metric("processor_tail_sampling_early_decisions"))

	cfg2 := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg2.MaxGroupBytes = 200
	h2 := newHarness(t, cfg2)
	h2.consumeTraces(spans(tid(7), 10))
	assert.Equal(t, map[string]int64{"reason=max_group_bytes": 1}, h2.metric("processor_tail_sampling_early_decisions"))
	assert.Equal(t, 10, h2.traceSink.SpanCount())
}

// The ticker decides due groups in batches read ahead from the queue, which
// also holds groups decided early and groups not yet due: each group must be
// decided exactly once, and only once due.
func TestDueGroupsDecidedOnceInOrder(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.MaxGroupRecords = 2
	cfg.DecisionWait = 10 * time.Second
	h := newHarness(t, cfg)
	const groups = 3*dueGroupsMax + 5
	want := 0
	for i := range uint64(groups) {
		// Every third group reaches max_group_records and is decided at once,
		// leaving a decided group in the queue between pending ones.
		n := 1 + int(i%3/2)
		h.consumeTraces(spans(tid(i), n))
		want += n
		if i == groups/2 {
			h.clock.advance(5 * time.Second)
		}
	}
	early := h.traceSink.SpanCount()
	require.Equal(t, 2*(groups/3), early, "groups decided early")
	h.tick(5 * time.Second) // the first half is due
	firstHalf := early
	for i := range uint64(groups/2 + 1) {
		if i%3 != 2 {
			firstHalf++
		}
	}
	require.Equal(t, firstHalf, h.traceSink.SpanCount(), "only the due groups")
	h.tick(5 * time.Second)
	require.Equal(t, want, h.traceSink.SpanCount(), "every record once")
	type spanKey struct {
		trace pcommon.TraceID
		span  pcommon.SpanID
	}
	seen := map[spanKey]bool{}
	for _, td := range h.traceSink.AllTraces() {
		rs := td.ResourceSpans()
		for i := range rs.Len() {
			ss := rs.At(i).ScopeSpans()
			for j := range ss.Len() {
				sp := ss.At(j).Spans()
				for k := range sp.Len() {
					key := spanKey{sp.At(k).TraceID(), sp.At(k).SpanID()}
					require.False(t, seen[key], "span emitted twice")
					seen[key] = true
				}
			}
		}
	}
	assert.Equal(t, map[string]int64{"decision=kept,policy=all": groups}, h.metric("processor_tail_sampling_groups_decided"))
}

// Buffered records share slabs that are recycled as soon as the groups
// using them are decided, while other groups keep buffering: every kept
// record must come out exactly as it went in, whatever slab it sat in —
// small ones, ones larger than a slab, from resources of several sizes.
func TestRecordsSurviveSlabReuse(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.MaxBufferBytes = 96 << 10 // 1.5 KiB slabs: a few records each
	cfg.MaxGroupBytes = 16 << 10
	cfg.DecisionWait = 10 * time.Second
	h := newHarness(t, cfg)
	want := map[string]string{} // span name -> payload
	const groups = 600
	for i := range groups {
		td := ptrace.NewTraces()
		// 1 to 3 spans per call of one group, another group's spans
		// interleaved; payloads up to 3 KiB, some larger than a slab.
		for j := range 1 + i%3 {
			for k, g := range []int{i, (i*7 + 1) % groups} {
				if k == 1 && g == i {
					continue
				}
				name := fmt.Sprintf("g%d-c%d-s%d", g, i, j)
				payload := strings.Repeat(string(rune('a'+(i+j)%26)), (i*131+j*977)%3000)
				addSpan(td, fmt.Sprintf("svc-%d", g%5), tid(uint64(g)), uint64(j), func(s ptrace.Span) {
					s.SetName(name)
					s.Attributes().PutStr("payload", payload)
				})
				want[name] = payload
			}
		}
		h.consumeTraces(td)
		h.tick(100 * time.Millisecond) // groups come due as others buffer
	}
	require.NoError(t, h.traces.Shutdown(context.Background()))
	assertDrained(t, h.s)

	got := map[string]string{}
	for _, td := range h.traceSink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					name := sp.Name()
					_, dup := got[name]
					require.False(t, dup, "emitted twice: %s", name)
					g := strings.TrimPrefix(strings.SplitN(name, "-", 2)[0], "g")
					var gi int
					_, err := fmt.Sscan(g, &gi)
					require.NoError(t, err)
					assert.Equal(t, fmt.Sprintf("svc-%d", gi%5), svc.Str(), name)
					p, _ := sp.Attributes().Get("payload")
					got[name] = p.Str()
				}
			}
		}
	}
	require.Len(t, got, len(want))
	for name, p := range want {
		require.Equal(t, p, got[name], name)
	}
	assert.Positive(t, h.metric("processor_tail_sampling_early_decisions")["reason=max_buffer_bytes"],
		"the buffer bound must have forced early decisions")
}

// Under a flood the buffer never exceeds max_buffer_bytes, groups are decided
// early (oldest first), and every record is accounted for.
func TestMemoryBoundUnderFlood(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.MaxBufferBytes = 64 << 10
	cfg.MaxGroupBytes = 16 << 10
	h := newHarness(t, cfg)
	const groups, perGroup = 2000, 5
	errorsSent := 0
	for i := range groups {
		var opts []spanOpt
		if i%7 == 0 {
			opts = append(opts, withError())
			errorsSent++
		}
		h.consumeTraces(spans(tid(uint64(i)), perGroup, opts...))
		h.s.mu.Lock()
		buffered := h.s.buffered
		h.s.mu.Unlock()
		require.LessOrEqual(t, buffered, cfg.MaxBufferBytes)
	}
	early := h.metric("processor_tail_sampling_early_decisions")["reason=max_buffer_bytes"]
	assert.Positive(t, early)
	// Oldest first: the first group was decided early, the last one waits.
	assert.False(t, h.hasGroup(tid(0)))
	assert.True(t, h.hasGroup(tid(groups-1)))

	require.NoError(t, h.traces.Shutdown(context.Background()))
	assertDrained(t, h.s)
	assert.Equal(t, errorsSent*perGroup, h.traceSink.SpanCount(), "every error group kept whole")
	sampled := h.metric("processor_tail_sampling_records_sampled")
	assert.Equal(t, int64(groups*perGroup), sampled["decision=kept,signal=traces"]+sampled["decision=dropped,signal=traces"])
	assert.Equal(t, map[string]int64{"": 0}, h.metric("processor_tail_sampling_buffered_bytes"))
}

func TestMaxGroupsBound(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	cfg.MaxGroups = 10
	h := newHarness(t, cfg)
	for i := range 25 {
		h.consumeTraces(spans(tid(uint64(i)), 1))
	}
	assert.Equal(t, 10, h.s.groups.Len())
	assert.Equal(t, map[string]int64{"reason=max_groups": 15}, h.metric("processor_tail_sampling_early_decisions"))
}

func TestDecisionCacheEvictions(t *testing.T) {
	cfg := baseConfig(errorsPolicy())
	// 8 entries: one bucket each, so eviction is strictly oldest first.
	cfg.DecisionCache = DecisionCacheConfig{KeptSize: 8, DroppedSize: 8}
	h := newHarness(t, cfg)
	for i := range 10 {
		h.consumeTraces(spans(tid(uint64(i)), 1))
	}
	for i := range 9 {
		h.consumeTraces(spans(tid(uint64(100+i)), 1, withError()))
	}
	h.tick(cfg.DecisionWait)
	assert.Equal(t, map[string]int64{"decision=dropped": 2, "decision=kept": 1}, h.metric("processor_tail_sampling_decision_cache_evictions"))
	// tid(0) was evicted: its late span starts a new group instead of being dropped.
	h.consumeTraces(spans(tid(0), 1, withError()))
	assert.True(t, h.hasGroup(tid(0)))
}

func TestNextConsumerErrorIsCounted(t *testing.T) {
	f, set, tel := newTestFactory(t)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	p, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewErr(errors.New("down")))
	require.NoError(t, err)
	require.NoError(t, p.ConsumeTraces(context.Background(), spans(tid(1), 3)), "buffering accepts")
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, map[string]int64{"signal=traces": 3}, metricPoints(t, tel, "processor_tail_sampling_records_send_failed"))

	// Without any group key the batch is passed through and the error returned.
	p2, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewErr(errors.New("down")))
	require.NoError(t, err)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("no trace id")
	require.EqualError(t, p2.ConsumeTraces(context.Background(), td), "down")
	require.NoError(t, p2.Shutdown(context.Background()))
}

func TestLatencyAndAttributePolicies(t *testing.T) {
	lo, hi := 100.0, 200.0
	yes := true
	h := newHarness(t, baseConfig(
		PolicyConfig{Name: "health", Type: policyAttribute, Decision: decisionDrop, Attribute: AttributeConfig{Key: "http.route", Values: []string{"/healthz"}}},
		PolicyConfig{Name: "slow", Type: policyLatency, Decision: decisionKeep, Latency: LatencyConfig{Threshold: 2 * time.Second, Attribute: "duration_ms", AttributeUnit: "ms"}},
		PolicyConfig{Name: "vip", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "tier", Regex: "^gold$"}},
		PolicyConfig{Name: "range", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "size", Min: &lo, Max: &hi}},
		PolicyConfig{Name: "flag", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "debug", Bool: &yes}},
	))
	h.consumeTraces(spans(tid(1), 1, withDuration(3*time.Second)))                                     // slow root
	h.consumeTraces(spans(tid(2), 2, withDuration(3*time.Second), withAttr("http.route", "/healthz"))) // slow but health: dropped first
	td := spans(tid(3), 2, withDuration(time.Millisecond))
	td.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0).SetEndTimestamp(pcommon.Timestamp(9e9)) // slow child: not root
	h.consumeTraces(td)
	h.consumeLogs(logs(tid(4), 1, func(lr plog.LogRecord) { lr.Attributes().PutDouble("duration_ms", 2500) }))
	h.consumeLogs(logs(tid(5), 1, withLogAttr("tier", "gold")))
	h.consumeLogs(logs(tid(6), 1, withLogAttr("tier", "golden")))
	h.consumeLogs(logs(tid(7), 1, func(lr plog.LogRecord) { lr.Attributes().PutInt("size", 150) }))
	h.consumeLogs(logs(tid(8), 1, func(lr plog.LogRecord) { lr.Attributes().PutInt("size", 250) }))
	h.consumeLogs(logs(tid(9), 1, func(lr plog.LogRecord) { lr.Attributes().PutBool("debug", true) }))
	ld := logs(tid(10), 1)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("tier", "gold") // resource attributes count too
	h.consumeLogs(ld)
	h.tick(10 * time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 1}, emittedSpans(h.traceSink))
	assert.Equal(t, map[pcommon.TraceID]int{tid(4): 1, tid(5): 1, tid(7): 1, tid(9): 1, tid(10): 1}, emittedLogs(h.logSink))
	assert.Equal(t, int64(1), h.metric("processor_tail_sampling_groups_decided")["decision=dropped,policy=health"])
}

func TestErrorsPolicyVariants(t *testing.T) {
	h := newHarness(t, baseConfig(errorsPolicy()))
	h.consumeLogs(logs(tid(1), 1, func(lr plog.LogRecord) { lr.SetSeverityText("CRITICAL") }))
	h.consumeLogs(logs(tid(2), 1, func(lr plog.LogRecord) { lr.SetSeverityText("warning") }))
	h.consumeLogs(logs(tid(3), 1, func(lr plog.LogRecord) { lr.Attributes().PutStr("http.response.status_code", "503") }))
	h.consumeTraces(spans(tid(4), 1, func(s ptrace.Span) { s.Attributes().PutInt("http.response.status_code", 500) }))
	h.consumeTraces(spans(tid(5), 1, func(s ptrace.Span) { s.Attributes().PutInt("http.response.status_code", 404) }))
	h.tick(10 * time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 1, tid(3): 1}, emittedLogs(h.logSink))
	assert.Equal(t, map[pcommon.TraceID]int{tid(4): 1}, emittedSpans(h.traceSink))
}

func TestRateLimitPolicy(t *testing.T) {
	h := newHarness(t, baseConfig(PolicyConfig{Name: "budget", Type: policyRateLimit, Decision: decisionKeep, RateLimit: RateLimitConfig{GroupsPerSecond: 3}}))
	for i := range 10 {
		h.consumeTraces(spans(tid(uint64(i)), 1))
	}
	h.tick(10 * time.Second)
	assert.Equal(t, 3, h.traceSink.SpanCount(), "burst of one second's worth")
	for i := 10; i < 20; i++ {
		h.consumeTraces(spans(tid(uint64(i)), 1))
	}
	h.tick(10 * time.Second) // 10 s later: the bucket refilled to its burst only
	assert.Equal(t, 6, h.traceSink.SpanCount())
}

func TestPerKeyMinimumPolicy(t *testing.T) {
	h := newHarness(t, baseConfig(
		errorsPolicy(),
		PolicyConfig{Name: "quiet", Type: policyPerKeyMinimum, Decision: decisionKeep, PerKeyMinimum: PerKeyMinimumConfig{
			Keys: []string{"service.name", "http.route"}, MinGroups: 2, Interval: time.Minute, MaxKeys: 100,
		}},
	))
	route := func(r string) spanOpt { return withAttr("http.route", r) }
	// /busy: one error group (kept by errors, counts toward the minimum) and 5 clean ones.
	h.consumeTraces(spans(tid(1), 1, route("/busy"), withError()))
	for i := 2; i <= 6; i++ {
		h.consumeTraces(spans(tid(uint64(i)), 1, route("/busy")))
	}
	// /quiet: 3 clean groups.
	for i := 7; i <= 9; i++ {
		h.consumeTraces(spans(tid(uint64(i)), 1, route("/quiet")))
	}
	h.tick(10 * time.Second)
	got := emittedSpans(h.traceSink)
	assert.Len(t, got, 4, "busy: error + 1 more, quiet: 2")
	assert.Contains(t, got, tid(1))
	assert.Equal(t, map[string]int64{
		"decision=kept,policy=errors":              1,
		"decision=kept,policy=quiet":               3,
		"decision=dropped,policy=default_decision": 5,
	}, h.metric("processor_tail_sampling_groups_decided"))

	// A new interval resets the counts.
	h.clock.advance(time.Minute)
	h.consumeTraces(spans(tid(20), 1, route("/quiet")))
	h.tick(10 * time.Second)
	assert.Contains(t, emittedSpans(h.traceSink), tid(20))
}

func TestNeverAndDefaultKeep(t *testing.T) {
	cfg := baseConfig(
		PolicyConfig{Name: "no-debug", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Key: "env", Values: []string{"dev"}}},
		PolicyConfig{Name: "nothing-else", Type: policyNever, Decision: decisionKeep},
	)
	cfg.DefaultDecision = decisionKeep
	h := newHarness(t, cfg)
	h.consumeTraces(spans(tid(1), 1, withAttr("env", "dev")))
	h.consumeTraces(spans(tid(2), 1))
	h.tick(10 * time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 1}, emittedSpans(h.traceSink))
}

// Concurrent callers on both signals while the ticker decides: every record
// ends kept or dropped, counted once, and kept groups are whole.
func TestConcurrentConsumersConserveRecords(t *testing.T) {
	cfg := baseConfig(errorsPolicy(), PolicyConfig{Name: "half", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: 50}})
	cfg.DecisionWait = 20 * time.Millisecond
	cfg.MaxBufferBytes = 256 << 10
	cfg.MaxGroupBytes = 64 << 10
	h := newHarness(t, cfg)
	require.NoError(t, h.traces.Start(context.Background(), componenttest.NewNopHost()))
	const workers, perWorker = 4, 300
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range perWorker {
				id := tid(uint64(w*perWorker + i))
				if w%2 == 0 {
					assert.NoError(t, h.traces.ConsumeTraces(context.Background(), spans(id, 3)))
				} else {
					assert.NoError(t, h.logs.ConsumeLogs(context.Background(), logs(id, 3)))
				}
				h.clock.advance(time.Millisecond)
			}
		}()
	}
	for range workers {
		<-done
	}
	require.NoError(t, h.traces.Shutdown(context.Background()))
	assertDrained(t, h.s)
	sampled := h.metric("processor_tail_sampling_records_sampled")
	var total int64
	for _, n := range sampled {
		total += n
	}
	assert.Equal(t, int64(workers*perWorker*3), total)
	assert.Equal(t, sampled["decision=kept,signal=traces"], int64(h.traceSink.SpanCount()))
	assert.Equal(t, sampled["decision=kept,signal=logs"], int64(h.logSink.LogRecordCount()))
	for _, n := range emittedSpans(h.traceSink) {
		assert.Equal(t, 3, n)
	}
	for _, n := range emittedLogs(h.logSink) {
		assert.Equal(t, 3, n)
	}
}

// Groups decided in the middle of a batch release the shared resource/scope
// header; later records of the same batch must not reuse the released one.
func TestAccountingWhenHeaderReleasedMidBatch(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.MaxGroupRecords = 1
	h := newHarness(t, cfg)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 3 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid(uint64(i)))
		sp.SetSpanID(sid(uint64(i)))
	}
	h.consumeTraces(td)
	assert.Equal(t, 3, h.traceSink.SpanCount())
	h.s.mu.Lock()
	assert.Zero(t, h.s.buffered)
	assert.Empty(t, h.s.headers.byHash)
	h.s.mu.Unlock()
	assert.Zero(t, h.metric("processor_tail_sampling_buffered_bytes")[""])
}

func TestAtMost256PipelinesPerInstance(t *testing.T) {
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	cfg := baseConfig(errorsPolicy())
	var created []component.Component
	for range 256 {
		p, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
		require.NoError(t, err)
		created = append(created, p)
	}
	_, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.EqualError(t, err, "tail_sampling: at most 256 pipelines can share one instance")
	for _, p := range created {
		require.NoError(t, p.Shutdown(context.Background()))
	}
}

// deadlineConsumer refuses data handed over with a context that is already
// done, as an exporter's queue with wait_for_result does once the caller's
// deadline has passed.
type deadlineConsumer struct{ consumertest.TracesSink }

func (c *deadlineConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.TracesSink.ConsumeTraces(ctx, td)
}

// Groups decided early during one caller's call belong to other callers, who
// were answered long ago: the caller's deadline or cancellation must not
// make their send fail.
func TestEarlyDecisionsIgnoreTheCallersDeadline(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.MaxGroups = 1
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(deadlineConsumer)
	p, err := newFactory(newFakeClock().now).CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	first := spans(tid(1), 2)
	first.MarkReadOnly()
	require.NoError(t, p.ConsumeTraces(context.Background(), first))
	expired, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-expired.Done()
	second := spans(tid(2), 1)
	second.MarkReadOnly()
	// Buffering the second group exceeds max_groups: the first is decided now.
	require.NoError(t, p.ConsumeTraces(expired, second))
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 2}, emittedSpans(&sink.TracesSink), "the first caller's group, decided early, is sent")
	assert.Empty(t, metricPoints(t, tel, "processor_tail_sampling_records_send_failed"))

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 2, tid(2): 1}, emittedSpans(&sink.TracesSink))
}

// blockingConsumer holds every send until released, as an exporter waiting for a slow
// store (wait_for_result) does.
type blockingConsumer struct {
	consumertest.TracesSink
	entered chan struct{}
	release chan struct{}
}

func (c *blockingConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	c.entered <- struct{}{}
	<-c.release
	return c.TracesSink.ConsumeTraces(ctx, td)
}

// While a decision's records wait on a slow exporter, the metrics already show the
// group decided and its memory released: an operator watching a stalled store must see
// the buffer as it is, not as it was before the stall.
func TestMetricsDoNotWaitForTheEmission(t *testing.T) {
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.DecisionWait = time.Second
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &blockingConsumer{entered: make(chan struct{}), release: make(chan struct{})}
	clock := newFakeClock()
	p, err := newFactory(clock.now).CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	s := p.(*tracesProcessor).s
	td := spans(tid(1), 3)
	td.MarkReadOnly()
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.Equal(t, map[string]int64{"": 1}, metricPoints(t, tel, "processor_tail_sampling_groups_active"))

	clock.advance(2 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.decideDue(context.Background())
	}()
	<-sink.entered
	assert.Equal(t, map[string]int64{"": 0}, metricPoints(t, tel, "processor_tail_sampling_groups_active"))
	assert.Equal(t, map[string]int64{"": 0}, metricPoints(t, tel, "processor_tail_sampling_buffered_bytes"))
	assert.Equal(t, map[string]int64{"decision=kept,policy=all": 1}, metricPoints(t, tel, "processor_tail_sampling_groups_decided"))
	close(sink.release)
	<-done
	assert.Equal(t, 3, sink.SpanCount())
	require.NoError(t, p.Shutdown(context.Background()))
}

// A group without a root span (the entry service is not instrumented, or its
// span never arrives) is judged by the latency policy on its spans' extent,
// earliest start to latest end; with a root span, the root's duration
// decides as before.
func TestLatencyPolicyWithoutRootSpanUsesSpanExtent(t *testing.T) {
	h := newHarness(t, baseConfig(
		PolicyConfig{Name: "slow", Type: policyLatency, Decision: decisionKeep, Latency: LatencyConfig{Threshold: 2 * time.Second, AttributeUnit: "ms"}},
	))
	at := func(start, end time.Duration) spanOpt {
		return func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.Timestamp(1_000_000_000 + start))
			s.SetEndTimestamp(pcommon.Timestamp(1_000_000_000 + end))
		}
	}
	// Rootless, two sequential 1.2 s spans arriving apart: 2.5 s in all.
	h.consumeTraces(spans(tid(1), 1, asChild(), at(0, 1200*time.Millisecond)))
	h.consumeTraces(spans(tid(1), 1, asChild(), at(1300*time.Millisecond, 2500*time.Millisecond)))
	// Rootless, 1.5 s in all.
	h.consumeTraces(spans(tid(2), 2, asChild(), at(0, 1500*time.Millisecond)))
	// A fast root: its duration decides, whatever a child does.
	td := spans(tid(3), 1, at(0, time.Millisecond))
	addSpan(td, "api", tid(3), 7, asChild(), at(0, 9*time.Second))
	h.consumeTraces(td)
	h.tick(10 * time.Second)
	assert.Equal(t, map[pcommon.TraceID]int{tid(1): 2}, emittedSpans(h.traceSink))
}
