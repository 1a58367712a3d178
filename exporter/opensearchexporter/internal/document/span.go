package document

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanKindNames are the SS4O keyword values for ptrace.SpanKind.
var spanKindNames = [...]string{
	ptrace.SpanKindUnspecified: "SPAN_KIND_UNSPECIFIED",
	ptrace.SpanKindInternal:    "SPAN_KIND_INTERNAL",
	ptrace.SpanKindServer:      "SPAN_KIND_SERVER",
	ptrace.SpanKindClient:      "SPAN_KIND_CLIENT",
	ptrace.SpanKindProducer:    "SPAN_KIND_PRODUCER",
	ptrace.SpanKindConsumer:    "SPAN_KIND_CONSUMER",
}

func spanKindName(k ptrace.SpanKind) string {
	if int(k) >= 0 && int(k) < len(spanKindNames) {
		return spanKindNames[k]
	}
	return spanKindNames[ptrace.SpanKindUnspecified]
}

// AppendSpan appends one SS4O trace document for span to dst.
func AppendSpan(dst []byte, res pcommon.Resource, scope pcommon.InstrumentationScope, scopeSchemaURL string, span ptrace.Span) []byte {
	o := openObject(dst)
	o.time("@timestamp", span.StartTimestamp())
	tid, sid := span.TraceID(), span.SpanID()
	o.key("traceId")
	o.buf = appendHex(o.buf, tid[:])
	o.key("spanId")
	o.buf = appendHex(o.buf, sid[:])
	if psid := span.ParentSpanID(); !psid.IsEmpty() {
		o.key("parentSpanId")
		o.buf = appendHex(o.buf, psid[:])
	}
	o.str("traceState", span.TraceState().AsRaw())
	o.str("name", span.Name())
	o.str("kind", spanKindName(span.Kind()))
	o.time("startTime", span.StartTimestamp())
	o.time("endTime", span.EndTimestamp())
	dur := int64(0)
	if span.EndTimestamp() > span.StartTimestamp() {
		dur = int64(span.EndTimestamp() - span.StartTimestamp())
	}
	o.int("durationInNanos", dur)
	if svc, ok := res.Attributes().Get("service.name"); ok {
		o.str("serviceName", svc.AsString())
	}
	o.key("status")
	st := openObject(o.buf)
	st.int("code", int64(span.Status().Code()))
	st.str("message", span.Status().Message())
	o.buf = st.close()
	o.scope(scope, scopeSchemaURL)
	o.attrs("resource", res.Attributes())
	o.attrs("attributes", span.Attributes())
	if evs := span.Events(); evs.Len() > 0 {
		o.key("events")
		o.buf = append(o.buf, '[')
		for i := 0; i < evs.Len(); i++ {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			ev := evs.At(i)
			e := o.nest("events", i)
			e.str("name", ev.Name())
			e.time("@timestamp", ev.Timestamp())
			e.attrs("attributes", ev.Attributes())
			if n := ev.DroppedAttributesCount(); n > 0 {
				e.int("droppedAttributesCount", int64(n))
			}
			o.unnest(&e)
		}
		o.buf = append(o.buf, ']')
	}
	if links := span.Links(); links.Len() > 0 {
		o.key("links")
		o.buf = append(o.buf, '[')
		for i := 0; i < links.Len(); i++ {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			l := links.At(i)
			ltid, lsid := l.TraceID(), l.SpanID()
			e := o.nest("links", i)
			e.key("traceId")
			e.buf = appendHex(e.buf, ltid[:])
			e.key("spanId")
			e.buf = appendHex(e.buf, lsid[:])
			e.str("traceState", l.TraceState().AsRaw())
			e.attrs("attributes", l.Attributes())
			o.unnest(&e)
		}
		o.buf = append(o.buf, ']')
	}
	if n := span.DroppedAttributesCount(); n > 0 {
		o.int("droppedAttributesCount", int64(n))
	}
	if n := span.DroppedEventsCount(); n > 0 {
		o.int("droppedEventsCount", int64(n))
	}
	if n := span.DroppedLinksCount(); n > 0 {
		o.int("droppedLinksCount", int64(n))
	}
	return o.closeDocument()
}
