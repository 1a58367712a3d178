package tailsamplingprocessor

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
)

// modelGroup is the test's own description of a request.
type modelGroup struct {
	id        pcommon.TraceID
	spans     int
	logs      int
	spanError bool // one span has status error
	logError  bool // one log is ERROR
	slowRoot  bool // the root span takes 3 s
	health    bool // every span has http.route=/healthz
	// reqID, when set, is logged by every app log (with the trace id) and
	// by accessLogs gateway logs without a trace id: one request, two keys.
	reqID       string
	accessLogs  int
	accessError bool // one access log is ERROR
}

// referenceKeep is the expected decision for the policy list used below,
// written from the policy semantics rather than from the processor's code.
func referenceKeep(g modelGroup, seed uint32, pct float64) bool {
	switch {
	case g.health:
		return false // drop-health comes first
	case g.spanError || g.logError || g.accessError:
		return true
	case g.slowRoot:
		return true
	}
	// Probabilistic: the documented hash (FNV-1a over seed and id, murmur3
	// finalizer) against pct of the 64-bit range.
	return float64(keyHash(seed, g.id)) < pct/100*math.Exp2(64)
}

// Generated groups, their records shuffled across many batches of both
// signals: every kept group is emitted whole, every dropped group not at all,
// and decisions match the reference. A third of the requests also have
// access logs keyed only by their request id, which the app logs carry too:
// they follow the trace's decision.
func TestDecisionsMatchReference(t *testing.T) {
	const seed, pct = 7, 20.0
	cfg := baseConfig(
		PolicyConfig{Name: "drop-health", Type: policyAttribute, Decision: decisionDrop, Attribute: AttributeConfig{Key: "http.route", Values: []string{"/healthz"}}},
		errorsPolicy(),
		PolicyConfig{Name: "slow", Type: policyLatency, Decision: decisionKeep, Latency: LatencyConfig{Threshold: 2 * time.Second, AttributeUnit: "ms"}},
		PolicyConfig{Name: "sample", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: pct}},
	)
	cfg.HashSeed = seed
	cfg.CorrelationAttributes = []string{"request_id"}
	h := newHarness(t, cfg)

	rng := rand.New(rand.NewPCG(1, 2))
	var model []modelGroup
	type rec struct {
		g      int
		n      int
		span   bool
		access bool
	}
	var recs []rec
	for i := range 3000 {
		var id pcommon.TraceID
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		g := modelGroup{id: id, spans: 1 + rng.IntN(6), logs: rng.IntN(5)}
		if rng.IntN(3) == 0 {
			g.reqID, g.accessLogs, g.logs = fmt.Sprintf("req-%d", i), 1+rng.IntN(2), max(g.logs, 1)
		}
		switch r := rng.IntN(20); {
		case r == 0:
			g.spanError = true
		case r == 1 && g.logs > 0:
			g.logError = true
		case r == 2:
			g.slowRoot = true
		case r == 3:
			g.health, g.spanError = true, rng.IntN(2) == 0
		case r == 4 && g.reqID != "":
			g.accessError = true
		}
		model = append(model, g)
		for n := range g.spans {
			recs = append(recs, rec{g: i, n: n, span: true})
		}
		for n := range g.logs {
			recs = append(recs, rec{g: i, n: n})
		}
		for n := range g.accessLogs {
			recs = append(recs, rec{g: i, n: n, access: true})
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })

	for start := 0; start < len(recs); start += 97 {
		td, ld := ptrace.NewTraces(), plog.NewLogs()
		for _, r := range recs[start:min(start+97, len(recs))] {
			g := model[r.g]
			switch {
			case r.access:
				opts := []logOpt{withLogAttr("request_id", g.reqID)}
				if r.n == 0 && g.accessError {
					opts = append(opts, withSeverity(plog.SeverityNumberError))
				}
				addLog(ld, pcommon.TraceID{}, uint64(r.n), opts...)
			case r.span:
				var opts []spanOpt
				if r.n > 0 {
					opts = append(opts, asChild())
				}
				if r.n == g.spans-1 && g.spanError {
					opts = append(opts, withError())
				}
				if r.n == 0 && g.slowRoot {
					opts = append(opts, withDuration(3*time.Second))
				}
				if g.health {
					opts = append(opts, withAttr("http.route", "/healthz"))
				}
				addSpan(td, "api", g.id, uint64(r.n), opts...)
			default:
				var opts []logOpt
				if g.reqID != "" {
					opts = append(opts, withLogAttr("request_id", g.reqID))
				}
				if r.n == 0 && g.logError {
					opts = append(opts, withSeverity(plog.SeverityNumberError))
				}
				addLog(ld, g.id, uint64(r.n), opts...)
			}
		}
		if td.SpanCount() > 0 {
			h.consumeTraces(td)
		}
		if ld.LogRecordCount() > 0 {
			h.consumeLogs(ld)
		}
		h.clock.advance(time.Millisecond)
	}
	h.tick(cfg.DecisionWait)
	assertDrained(t, h.s)

	gotSpans, gotLogs, gotAccess := emittedSpans(h.traceSink), emittedLogs(h.logSink), emittedAccessLogs(h.logSink)
	kept := 0
	for _, g := range model {
		if referenceKeep(g, seed, pct) {
			kept++
			require.Equal(t, g.spans, gotSpans[g.id], "kept group %x: all spans", g.id)
			require.Equal(t, g.logs, gotLogs[g.id], "kept group %x: all logs", g.id)
			require.Equal(t, g.accessLogs, gotAccess[g.reqID], "kept group %x: all access logs", g.id)
			continue
		}
		require.Zero(t, gotSpans[g.id], "dropped group %x: no span", g.id)
		require.Zero(t, gotLogs[g.id], "dropped group %x: no log", g.id)
		require.Zero(t, gotAccess[g.reqID], "dropped group %x: no access log", g.id)
	}
	assert.Greater(t, kept, 600, "the generated set exercises keeping")
	assert.Less(t, kept, 2000, "and dropping")
}

// emittedAccessLogs counts emitted log records without a trace id per
// request_id.
func emittedAccessLogs(sink *consumertest.LogsSink) map[string]int {
	out := map[string]int{}
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if v, ok := lr.Attributes().Get("request_id"); ok && lr.TraceID().IsEmpty() {
						out[v.Str()]++
					}
				}
			}
		}
	}
	return out
}

// The probabilistic policy keeps the configured share within ±2 % over 100k
// groups, and two independent instances with the same seed agree.
func TestProbabilisticRateAndAgreement(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]pcommon.TraceID, 100_000)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(rng.Uint32())
		}
	}
	for _, pct := range []float64{1, 10, 50} {
		p, err := compilePolicies([]PolicyConfig{{Name: "p", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: pct}}})
		require.NoError(t, err)
		kept := 0
		for _, id := range ids {
			if keyHash(0, id) < p[0].threshold {
				kept++
			}
		}
		got := float64(kept) / float64(len(ids)) * 100
		assert.InDelta(t, pct, got, 0.02*pct+0.1, "rate %v%%", pct)
	}

	// Two separately built instances (different processes in production) make
	// identical decisions for the same trace ids.
	run := func() map[pcommon.TraceID]int {
		cfg := baseConfig(PolicyConfig{Name: "p", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: 10}})
		cfg.HashSeed = 99
		sink := new(consumertest.TracesSink)
		tp, err := newFactory(newFakeClock().now).CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		td := ptrace.NewTraces()
		for i, id := range ids[:20_000] {
			addSpan(td, "api", id, uint64(i))
		}
		require.NoError(t, tp.ConsumeTraces(context.Background(), td))
		require.NoError(t, tp.Shutdown(context.Background()))
		return emittedSpans(sink)
	}
	a, b := run(), run()
	assert.Equal(t, a, b)
	assert.InDelta(t, 2000, len(a), 200)
}
