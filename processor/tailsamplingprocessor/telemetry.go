package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What happened to a record without a group key.
const (
	outcomePassed = iota
	outcomeKept
	outcomeDropped
	numOutcomes
)

// stats accumulates the counts of one call or tick so that metrics are
// recorded once, outside the lock.
type stats struct {
	received   [numSignals]int64
	sampled    [numSignals][2]int64 // [signal][kept]
	late       [numSignals][2]int64
	ungrouped  [numSignals][numOutcomes]int64
	sendFailed [numSignals]int64
	abandoned  [numSignals]int64
	decided    []int64 // [2*(policy+1)+kept]
	early      [numReasons]int64
	evictions  [2]int64
	// linksRefused counts joins of a trace id with a correlation value
	// refused by maxLinkedKeys.
	linksRefused int64
	// Deltas of the up-down counters.
	groupsDelta int64
	bytesDelta  int64
}

func (st *stats) reset() {
	// decided is sized per sampler (its policy count); pooled stats move
	// between samplers, so keep only the capacity.
	*st = stats{decided: st.decided[:0]}
}

// telemetryAttrs holds the attribute sets, built once.
type telemetryAttrs struct {
	signal         [numSignals]metric.AddOption
	signalDecision [numSignals][2]metric.AddOption
	signalOutcome  [numSignals][numOutcomes]metric.AddOption
	policyDecision [][2]metric.AddOption // [policy+1][kept]
	reason         [numReasons]metric.AddOption
	decision       [2]metric.AddOption
}

func newTelemetryAttrs(policies []*policy) *telemetryAttrs {
	signals := [numSignals]string{"logs", "traces"}
	decisions := [2]string{"dropped", "kept"}
	outcomes := [numOutcomes]string{"passed", "kept", "dropped"}
	reasons := [numReasons]string{"max_buffer_bytes", "max_groups", "max_group_records", "max_group_bytes", "shutdown"}
	opt := func(kv ...attribute.KeyValue) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(kv...))
	}
	a := &telemetryAttrs{}
	for s, sn := range signals {
		a.signal[s] = opt(attribute.String("signal", sn))
		for d, dn := range decisions {
			a.signalDecision[s][d] = opt(attribute.String("signal", sn), attribute.String("decision", dn))
		}
		for o, on := range outcomes {
			a.signalOutcome[s][o] = opt(attribute.String("signal", sn), attribute.String("outcome", on))
		}
	}
	names := []string{defaultDecisionPolicyTag}
	for _, p := range policies {
		names = append(names, p.name)
	}
	a.policyDecision = make([][2]metric.AddOption, len(names))
	for i, n := range names {
		for d, dn := range decisions {
			a.policyDecision[i][d] = opt(attribute.String("policy", n), attribute.String("decision", dn))
		}
	}
	for r, rn := range reasons {
		a.reason[r] = opt(attribute.String("reason", rn))
	}
	for d, dn := range decisions {
		a.decision[d] = opt(attribute.String("decision", dn))
	}
	return a
}

// record adds the accumulated counts to the self-metrics.
func (s *sampler) record(ctx context.Context, st *stats) {
	t, a := s.tel, s.attrs
	add := func(c metric.Int64Counter, n int64, o metric.AddOption) {
		if n != 0 {
			c.Add(ctx, n, o)
		}
	}
	for sig := range numSignals {
		add(t.ProcessorTailSamplingRecordsReceived, st.received[sig], a.signal[sig])
		add(t.ProcessorTailSamplingRecordsSendFailed, st.sendFailed[sig], a.signal[sig])
		add(t.ProcessorTailSamplingRecordsAbandoned, st.abandoned[sig], a.signal[sig])
		for d := range 2 {
			add(t.ProcessorTailSamplingRecordsSampled, st.sampled[sig][d], a.signalDecision[sig][d])
			add(t.ProcessorTailSamplingLateRecords, st.late[sig][d], a.signalDecision[sig][d])
		}
		for o := range numOutcomes {
			add(t.ProcessorTailSamplingRecordsUngrouped, st.ungrouped[sig][o], a.signalOutcome[sig][o])
		}
	}
	for i, n := range st.decided {
		add(t.ProcessorTailSamplingGroupsDecided, n, a.policyDecision[i/2][i%2])
	}
	for r, n := range st.early {
		add(t.ProcessorTailSamplingEarlyDecisions, n, a.reason[r])
	}
	for d, n := range st.evictions {
		add(t.ProcessorTailSamplingDecisionCacheEvictions, n, a.decision[d])
	}
	if st.linksRefused != 0 {
		t.ProcessorTailSamplingLinksRefused.Add(ctx, st.linksRefused)
	}
	if st.groupsDelta != 0 {
		t.ProcessorTailSamplingGroupsActive.Add(ctx, st.groupsDelta)
	}
	if st.bytesDelta != 0 {
		t.ProcessorTailSamplingBufferedBytes.Add(ctx, st.bytesDelta)
	}
}
