package piimaskprocessor // import "github.com/sluicelogs/sluice/processor/piimaskprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// processLogs masks resource and scope attributes, and each record's
// attributes and body (strings, maps and arrays, recursively).
func (p *piiMask) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	st := p.getState()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		p.maskMap(st, rl.Resource().Attributes(), locResourceAttribute, 0)
		st.clearFired()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			p.maskMap(st, sl.Scope().Attributes(), locScopeAttribute, 0)
			st.clearFired()
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				p.maskMap(st, lr.Attributes(), locLogAttribute, 0)
				p.maskBody(st, lr.Body())
				p.endRecord(st, lr.Attributes())
			}
		}
	}
	p.flush(ctx, st)
	return ld, nil
}

// processTraces masks resource and scope attributes, span attributes and
// span event attributes.
func (p *piiMask) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	st := p.getState()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		p.maskMap(st, rs.Resource().Attributes(), locResourceAttribute, 0)
		st.clearFired()
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			p.maskMap(st, ss.Scope().Attributes(), locScopeAttribute, 0)
			st.clearFired()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				p.maskMap(st, span.Attributes(), locSpanAttribute, 0)
				events := span.Events()
				for e := 0; e < events.Len(); e++ {
					p.maskMap(st, events.At(e).Attributes(), locSpanEventAttribute, 0)
				}
				p.endRecord(st, span.Attributes())
			}
		}
	}
	p.flush(ctx, st)
	return td, nil
}

// processMetrics masks resource and scope attributes and the attributes of
// every datapoint.
func (p *piiMask) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	st := p.getState()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		p.maskMap(st, rm.Resource().Attributes(), locResourceAttribute, 0)
		st.clearFired()
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			p.maskMap(st, sm.Scope().Attributes(), locScopeAttribute, 0)
			st.clearFired()
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				p.maskMetric(st, ms.At(k))
			}
		}
	}
	p.flush(ctx, st)
	return md, nil
}

func (p *piiMask) maskMetric(st *state, m pmetric.Metric) {
	// Datapoints carry no attribute for the detectors list: adding one would
	// split the time series.
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	}
}

// endDatapoint counts a datapoint as a record, without adding attributes.
func (p *piiMask) endDatapoint(st *state) {
	st.records++
	if st.anyFired {
		st.recordsMasked++
		st.clearFired()
	}
}
