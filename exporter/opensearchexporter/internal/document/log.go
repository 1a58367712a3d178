package document

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// LogTimestamp is the time a log document is filed under: the record's
// timestamp, else its observed timestamp, else the Unix epoch. It never reads
// the clock, so a retried record always lands in the same index. A time past
// 2262 (over int64 nanoseconds: garbage) counts as absent, since date_nanos
// cannot hold it and the document would be dead-lettered.
func LogTimestamp(lr plog.LogRecord) pcommon.Timestamp {
	if ts := lr.Timestamp(); ts != 0 && ts <= math.MaxInt64 {
		return ts
	}
	if ts := lr.ObservedTimestamp(); ts <= math.MaxInt64 {
		return ts
	}
	return 0
}

// AppendLog appends one SS4O log document for lr to dst.
func AppendLog(dst []byte, res pcommon.Resource, scope pcommon.InstrumentationScope, scopeSchemaURL string, lr plog.LogRecord) []byte {
	o := openObject(dst)
	o.time("@timestamp", LogTimestamp(lr))
	if ots := lr.ObservedTimestamp(); ots != 0 {
		o.time("observedTimestamp", ots)
	}
	if body := lr.Body(); body.Type() != pcommon.ValueTypeEmpty {
		o.key("body")
		if body.Type() == pcommon.ValueTypeStr {
			o.buf = AppendString(o.buf, body.Str())
		} else {
			// Structured bodies are kept searchable as their JSON text; the
			// mapping declares body as text.
			o.buf = AppendString(o.buf, body.AsString())
		}
	}
	if lr.SeverityText() != "" || lr.SeverityNumber() != plog.SeverityNumberUnspecified {
		o.key("severity")
		sev := openObject(o.buf)
		sev.str("text", lr.SeverityText())
		sev.int("number", int64(lr.SeverityNumber()))
		o.buf = sev.close()
	}
	if tid := lr.TraceID(); !tid.IsEmpty() {
		o.key("traceId")
		o.buf = appendHex(o.buf, tid[:])
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		o.key("spanId")
		o.buf = appendHex(o.buf, sid[:])
	}
	if f := lr.Flags(); f != 0 {
		o.int("flags", int64(f))
	}
	o.str("eventName", lr.EventName())
	o.scope(scope, scopeSchemaURL)
	o.attrs("resource", res.Attributes())
	o.attrs("attributes", lr.Attributes())
	if n := lr.DroppedAttributesCount(); n > 0 {
		o.int("droppedAttributesCount", int64(n))
	}
	return o.closeDocument()
}
