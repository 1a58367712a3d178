package tailsamplingprocessor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const linkSeed, linkPct = 11, 50.0

// linkConfig: errors, then 50 % probabilistic, grouping logs by request_id.
func linkConfig() *Config {
	cfg := baseConfig(
		errorsPolicy(),
		PolicyConfig{Name: "sample", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: linkPct}},
	)
	cfg.HashSeed = linkSeed
	cfg.CorrelationAttributes = []string{"request_id"}
	return cfg
}

// hashKeeps is the documented probabilistic rule for a group key.
func hashKeeps(k groupKey) bool {
	p, err := compilePolicies([]PolicyConfig{{Name: "p", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: linkPct}}})
	if err != nil {
		panic(err)
	}
	return keyHash(linkSeed, k) < p[0].threshold
}

// splitIDs finds a trace id and a request id whose own keys hash to
// different probabilistic decisions, the trace's being traceKept.
func splitIDs(t *testing.T, traceKept bool) (pcommon.TraceID, string) {
	t.Helper()
	for i := range uint64(1000) {
		id := tid(1000 + i)
		if hashKeeps(groupKey(id)) != traceKept {
			continue
		}
		for j := range 1000 {
			c := fmt.Sprintf("req-%d-%d", i, j)
			if hashKeeps(correlationGroupKey(c)) != traceKept {
				return id, c
			}
		}
	}
	t.Fatal("no split ids found")
	return pcommon.TraceID{}, ""
}

// The three parts of one request: the gateway's access log (request id
// only), the app's spans (trace id) and the app's log (both).
func nginxLog(c string, opts ...logOpt) plog.Logs {
	ld := plog.NewLogs()
	addLog(ld, pcommon.TraceID{}, 100, append([]logOpt{withLogAttr("request_id", c)}, opts...)...)
	return ld
}

func appLog(id pcommon.TraceID, c string) plog.Logs {
	ld := plog.NewLogs()
	addLog(ld, id, 200, withLogAttr("request_id", c))
	return ld
}

var linkOrders = [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}

// sendRequest sends the parts in order: 0 nginx log, 1 spans, 2 app log.
func sendRequest(h *harness, order [3]int, id pcommon.TraceID, c string, nginxOpts ...logOpt) {
	for _, part := range order {
		switch part {
		case 0:
			h.consumeLogs(nginxLog(c, nginxOpts...))
		case 1:
			h.consumeTraces(spans(id, 2))
		case 2:
			h.consumeLogs(appLog(id, c))
		}
		h.clock.advance(10)
	}
}

// Every record of a request is decided together, on the trace id, in every
// arrival order, whichever way its two keys would hash alone.
func TestLinkedGroupsShareOneDecision(t *testing.T) {
	for _, traceKept := range []bool{true, false} {
		for _, order := range linkOrders {
			t.Run(fmt.Sprintf("trace_kept=%v/order=%v", traceKept, order), func(t *testing.T) {
				cfg := linkConfig()
				h := newHarness(t, cfg)
				id, c := splitIDs(t, traceKept)
				sendRequest(h, order, id, c)
				h.tick(cfg.DecisionWait)
				want := 0
				if traceKept {
					want = 1
				}
				assert.Equal(t, 2*want, h.traceSink.SpanCount(), "spans")
				assert.Equal(t, 2*want, h.logSink.LogRecordCount(), "app and nginx logs")
				assert.Zero(t, h.s.groupCount())

				// A late access log of the request follows the decision.
				h.consumeLogs(nginxLog(c))
				assert.Equal(t, 3*want, h.logSink.LogRecordCount(), "late nginx log")
				assert.Zero(t, h.s.groupCount(), "no new group for the late record")
				require.NoError(t, h.logs.Shutdown(t.Context()))
				require.NoError(t, h.traces.Shutdown(t.Context()))
				assertDrained(t, h.s)
			})
		}
	}
}

// An error only in the access log keeps the spans and the app log.
func TestLinkedErrorKeepsWholeRequest(t *testing.T) {
	for _, order := range linkOrders {
		t.Run(fmt.Sprintf("order=%v", order), func(t *testing.T) {
			cfg := linkConfig()
			h := newHarness(t, cfg)
			id, c := splitIDs(t, false)
			sendRequest(h, order, id, c, withSeverity(plog.SeverityNumberError))
			h.tick(cfg.DecisionWait)
			assert.Equal(t, 2, h.traceSink.SpanCount(), "spans kept")
			assert.Equal(t, 2, h.logSink.LogRecordCount(), "both logs kept")
			// One group when the access log came after the app's log (it
			// joined the trace's group), else two; all kept by errors.
			for k := range h.metric("processor_tail_sampling_groups_decided") {
				assert.Equal(t, "decision=kept,policy=errors", k)
			}
		})
	}
}

// A group decided early (max_group_records) takes the groups linked to it
// along, in the same call.
func TestLinkedEarlyDecision(t *testing.T) {
	cfg := linkConfig()
	cfg.MaxGroupRecords = 3
	h := newHarness(t, cfg)
	id, c := splitIDs(t, true)
	h.consumeLogs(nginxLog(c))
	h.consumeTraces(spans(id, 2))
	require.Equal(t, 2, h.s.groupCount())
	h.consumeLogs(appLog(id, c)) // the trace's third record
	assert.Zero(t, h.s.groupCount(), "both groups decided")
	assert.Equal(t, 2, h.traceSink.SpanCount())
	assert.Equal(t, 2, h.logSink.LogRecordCount())
	assert.Equal(t, map[string]int64{"reason=max_group_records": 2}, h.metric("processor_tail_sampling_early_decisions"))
}

// A record of a trace already decided applies that decision to the pending
// group of its request id.
func TestLinkToDecidedTrace(t *testing.T) {
	for _, traceKept := range []bool{true, false} {
		t.Run(fmt.Sprintf("trace_kept=%v", traceKept), func(t *testing.T) {
			cfg := linkConfig()
			h := newHarness(t, cfg)
			id, c := splitIDs(t, traceKept)
			h.consumeTraces(spans(id, 2))
			h.tick(cfg.DecisionWait)
			h.consumeLogs(nginxLog(c))
			h.consumeLogs(appLog(id, c))
			assert.Zero(t, h.s.groupCount(), "the access log's group followed the trace")
			want := 0
			if traceKept {
				want = 2
			}
			assert.Equal(t, want, h.traceSink.SpanCount())
			assert.Equal(t, want, h.logSink.LogRecordCount())
		})
	}
}

// One request joins at most maxLinkedKeys keys; further joins are refused
// and counted, and every byte is given back.
func TestLinksBounded(t *testing.T) {
	cfg := linkConfig()
	h := newHarness(t, cfg)
	id := tid(1)
	ld := plog.NewLogs()
	for i := range maxLinkedKeys + 3 {
		addLog(ld, id, uint64(i), withLogAttr("request_id", fmt.Sprintf("r-%d", i)))
	}
	h.consumeLogs(ld)
	assert.Equal(t, map[string]int64{"": 4}, h.metric("processor_tail_sampling_links_refused"))
	h.s.mu.Lock()
	assert.Len(t, h.s.links, maxLinkedKeys)
	h.s.mu.Unlock()
	h.tick(cfg.DecisionWait)
	h.s.mu.Lock()
	assert.Empty(t, h.s.links)
	h.s.mu.Unlock()
	require.NoError(t, h.logs.Shutdown(t.Context()))
	require.NoError(t, h.traces.Shutdown(t.Context()))
	assertDrained(t, h.s)
}

// A pending group that follows a trace dropped earlier is counted under the
// policy that dropped the trace, as a kept one is under the policy that kept
// it: the dropped decision cache remembers the policy too.
func TestLinkToDroppedTraceCountsItsPolicy(t *testing.T) {
	cfg := baseConfig(
		PolicyConfig{Name: "drop_everything", Type: policyNever, Decision: decisionDrop},
	)
	cfg.DefaultDecision = decisionKeep
	cfg.CorrelationAttributes = []string{"request_id"}
	h := newHarness(t, cfg)
	id := tid(7)
	h.consumeTraces(spans(id, 2))
	h.tick(cfg.DecisionWait)
	h.consumeLogs(nginxLog("req-7"))
	h.consumeLogs(appLog(id, "req-7"))
	assert.Zero(t, h.s.groupCount(), "the access log's group followed the trace")
	assert.Zero(t, h.traceSink.SpanCount())
	assert.Zero(t, h.logSink.LogRecordCount())
	assert.Equal(t, map[string]int64{"decision=dropped,policy=drop_everything": 2},
		h.metric("processor_tail_sampling_groups_decided"))
}

// A request whose correlation value was decided and kept before any record
// joined it to the trace (an access log written at the start of a request
// longer than decision_wait) keeps the trace too, under the policy that kept
// the value: the request is not emitted partially. A dropped value cannot
// be joined back (its records are gone); the trace is then decided alone.
func TestLinkToKeptValueKeepsTrace(t *testing.T) {
	for _, valueKept := range []bool{true, false} {
		t.Run(fmt.Sprintf("value_kept=%v", valueKept), func(t *testing.T) {
			cfg := linkConfig()
			h := newHarness(t, cfg)
			id, _ := splitIDs(t, false) // the trace alone would be dropped
			c := droppedValue(t)
			if valueKept {
				h.consumeLogs(nginxLog(c, withSeverity(plog.SeverityNumberError)))
			} else {
				h.consumeLogs(nginxLog(c))
			}
			h.tick(cfg.DecisionWait)
			require.Zero(t, h.s.groupCount())
			wantLogs := 0
			if valueKept {
				wantLogs = 1
			}
			require.Equal(t, wantLogs, h.logSink.LogRecordCount())

			h.consumeTraces(spans(id, 2))
			h.consumeLogs(appLog(id, c))
			h.tick(cfg.DecisionWait)
			assert.Zero(t, h.s.groupCount())
			if valueKept {
				assert.Equal(t, 2, h.traceSink.SpanCount(), "spans kept with the request's access log")
				assert.Equal(t, 2, h.logSink.LogRecordCount(), "app log kept with the request's access log")
				assert.Equal(t, map[string]int64{"decision=kept,policy=errors": 2},
					h.metric("processor_tail_sampling_groups_decided"))
			} else {
				assert.Zero(t, h.traceSink.SpanCount())
				assert.Zero(t, h.logSink.LogRecordCount())
			}
			require.NoError(t, h.logs.Shutdown(t.Context()))
			require.NoError(t, h.traces.Shutdown(t.Context()))
			assertDrained(t, h.s)
		})
	}
}

// droppedValue returns a request id the probabilistic policy drops.
func droppedValue(t *testing.T) string {
	t.Helper()
	for j := range 1000 {
		if c := fmt.Sprintf("req-dropped-%d", j); !hashKeeps(correlationGroupKey(c)) {
			return c
		}
	}
	t.Fatal("no dropped request id found")
	return ""
}
