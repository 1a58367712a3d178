package piimaskprocessor // import "github.com/sluicelogs/sluice/processor/piimaskprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// processLogs masks resource and scope attributes, and each record's
// attributes, body (strings, maps and arrays, recursively) and event name.
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
				p.maskText(st, lr.EventName(), locLogEventName, lr.SetEventName)
				p.endRecord(st, lr.Attributes())
			}
		}
	}
	p.flush(ctx, st)
	return ld, nil
}

// processTraces masks resource and scope attributes, and each span's name,
// attributes, status message (where exception text often lands), event names
// and attributes, and link attributes.
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
				p.maskText(st, span.Name(), locSpanName, span.SetName)
				p.maskMap(st, span.Attributes(), locSpanAttribute, 0)
				status := span.Status()
				p.maskText(st, status.Message(), locSpanStatusMessage, status.SetMessage)
				events := span.Events()
				for e := 0; e < events.Len(); e++ {
					ev := events.At(e)
					p.maskText(st, ev.Name(), locSpanEventName, ev.SetName)
					p.maskMap(st, ev.Attributes(), locSpanEventAttribute, 0)
				}
				links := span.Links()
				for l := 0; l < links.Len(); l++ {
					p.maskMap(st, links.At(l).Attributes(), locSpanLinkAttribute, 0)
				}
				p.endRecord(st, span.Attributes())
			}
		}
	}
	p.flush(ctx, st)
	return td, nil
}

// processMetrics masks resource and scope attributes and the attributes of
// every datapoint and of its exemplars.
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
			p.maskDatapoint(st, dps.At(i).Attributes(), dps.At(i).Exemplars())
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskDatapoint(st, dps.At(i).Attributes(), dps.At(i).Exemplars())
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskDatapoint(st, dps.At(i).Attributes(), dps.At(i).Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskDatapoint(st, dps.At(i).Attributes(), dps.At(i).Exemplars())
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.maskMap(st, dps.At(i).Attributes(), locDatapointAttribute, 0)
			p.endDatapoint(st)
		}
	}
}

// maskDatapoint masks a datapoint's attributes and its exemplars' filtered
// attributes (the measurement's attributes the view dropped, often a user
// or request id).
func (p *piiMask) maskDatapoint(st *state, attrs pcommon.Map, exemplars pmetric.ExemplarSlice) {
	p.maskMap(st, attrs, locDatapointAttribute, 0)
	for e := 0; e < exemplars.Len(); e++ {
		p.maskMap(st, exemplars.At(e).FilteredAttributes(), locExemplarAttribute, 0)
	}
	p.endDatapoint(st)
}

// endDatapoint counts a datapoint as a record, without adding attributes.
func (p *piiMask) endDatapoint(st *state) {
	st.records++
	if st.anyFired {
		st.recordsMasked++
		st.clearFired()
	}
}
