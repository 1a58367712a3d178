package rowenc

import (
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// SpanEncoder converts ptrace.Traces into per-partition Arrow batches of
// the span schema. It is immutable after NewSpanEncoder and safe for
// concurrent use.
type SpanEncoder struct {
	schema *arrow.Schema
	layout *logarchive.Layout
	mem    memory.Allocator
	hints  *sizeHints
	promoter
}

// NewSpanEncoder returns a SpanEncoder for the given promoted columns and layout.
func NewSpanEncoder(promoted []logarchive.PromotedColumn, layout *logarchive.Layout, mem memory.Allocator) (*SpanEncoder, error) {
	schema, err := logarchive.SpanSchema(promoted)
	if err != nil {
		return nil, err
	}
	return &SpanEncoder{schema: schema, layout: layout, mem: mem, hints: newSizeHints(schema), promoter: newPromoter(promoted)}, nil
}

// Schema returns the Arrow schema of the batches.
func (e *SpanEncoder) Schema() *arrow.Schema { return e.schema }

// spanColumns holds typed builders of one partition batch of spans.
type spanColumns struct {
	rb            *array.RecordBuilder
	start         *array.TimestampBuilder
	startNano     *array.Int64Builder
	end           *array.TimestampBuilder
	endNano       *array.Int64Builder
	duration      *array.Int64Builder
	traceID       *array.FixedSizeBinaryBuilder
	spanID        *array.FixedSizeBinaryBuilder
	parentSpanID  *array.FixedSizeBinaryBuilder
	traceState    *array.StringBuilder
	flags         *array.Int64Builder
	name          *array.StringBuilder
	kind          *array.StringBuilder
	statusCode    *array.StringBuilder
	statusMessage *array.StringBuilder
	service       *array.StringBuilder
	scopeName     *array.StringBuilder
	scopeVer      *array.StringBuilder
	droppedAttrs  *array.Int64Builder
	droppedEvents *array.Int64Builder
	droppedLinks  *array.Int64Builder
	promoted      []array.Builder
	attrs         mapColumn
	resAttrs      mapColumn
	events        eventColumns
	links         linkColumns
	partition     logarchive.Partition
	hints         *sizeHints
}

// eventColumns builds the events LIST<STRUCT>.
type eventColumns struct {
	list     *array.ListBuilder
	elem     *array.StructBuilder
	time     *array.TimestampBuilder
	timeNano *array.Int64Builder
	name     *array.StringBuilder
	attrs    mapColumn
	dropped  *array.Int64Builder
}

// linkColumns builds the links LIST<STRUCT>.
type linkColumns struct {
	list       *array.ListBuilder
	elem       *array.StructBuilder
	traceID    *array.FixedSizeBinaryBuilder
	spanID     *array.FixedSizeBinaryBuilder
	traceState *array.StringBuilder
	flags      *array.Int64Builder
	attrs      mapColumn
	dropped    *array.Int64Builder
}

func (e *SpanEncoder) newColumns(p logarchive.Partition, rowsHint int) *spanColumns {
	rb := array.NewRecordBuilder(e.mem, e.schema)
	e.hints.reserve(rb, rowsHint)
	c := &spanColumns{rb: rb, partition: p, hints: e.hints}
	c.start = rb.Field(0).(*array.TimestampBuilder)
	c.startNano = rb.Field(1).(*array.Int64Builder)
	c.end = rb.Field(2).(*array.TimestampBuilder)
	c.endNano = rb.Field(3).(*array.Int64Builder)
	c.duration = rb.Field(4).(*array.Int64Builder)
	c.traceID = rb.Field(5).(*array.FixedSizeBinaryBuilder)
	c.spanID = rb.Field(6).(*array.FixedSizeBinaryBuilder)
	c.parentSpanID = rb.Field(7).(*array.FixedSizeBinaryBuilder)
	c.traceState = rb.Field(8).(*array.StringBuilder)
	c.flags = rb.Field(9).(*array.Int64Builder)
	c.name = rb.Field(10).(*array.StringBuilder)
	c.kind = rb.Field(11).(*array.StringBuilder)
	c.statusCode = rb.Field(12).(*array.StringBuilder)
	c.statusMessage = rb.Field(13).(*array.StringBuilder)
	c.service = rb.Field(14).(*array.StringBuilder)
	c.scopeName = rb.Field(15).(*array.StringBuilder)
	c.scopeVer = rb.Field(16).(*array.StringBuilder)
	c.droppedAttrs = rb.Field(17).(*array.Int64Builder)
	c.droppedEvents = rb.Field(18).(*array.Int64Builder)
	c.droppedLinks = rb.Field(19).(*array.Int64Builder)
	n := logarchive.NumSpanLeadingColumns
	for i := range e.promoted {
		c.promoted = append(c.promoted, rb.Field(n+i))
	}
	n += len(e.promoted)
	c.attrs = newMapColumn(rb.Field(n))
	c.resAttrs = newMapColumn(rb.Field(n + 1))

	ev := &c.events
	ev.list = rb.Field(n + 2).(*array.ListBuilder)
	ev.elem = ev.list.ValueBuilder().(*array.StructBuilder)
	ev.time = ev.elem.FieldBuilder(0).(*array.TimestampBuilder)
	ev.timeNano = ev.elem.FieldBuilder(1).(*array.Int64Builder)
	ev.name = ev.elem.FieldBuilder(2).(*array.StringBuilder)
	ev.attrs = newMapColumn(ev.elem.FieldBuilder(3))
	ev.dropped = ev.elem.FieldBuilder(4).(*array.Int64Builder)

	lk := &c.links
	lk.list = rb.Field(n + 3).(*array.ListBuilder)
	lk.elem = lk.list.ValueBuilder().(*array.StructBuilder)
	lk.traceID = lk.elem.FieldBuilder(0).(*array.FixedSizeBinaryBuilder)
	lk.spanID = lk.elem.FieldBuilder(1).(*array.FixedSizeBinaryBuilder)
	lk.traceState = lk.elem.FieldBuilder(2).(*array.StringBuilder)
	lk.flags = lk.elem.FieldBuilder(3).(*array.Int64Builder)
	lk.attrs = newMapColumn(lk.elem.FieldBuilder(4))
	lk.dropped = lk.elem.FieldBuilder(5).(*array.Int64Builder)
	return c
}

func (c *spanColumns) finish() Batch {
	rec := c.rb.NewRecordBatch()
	c.rb.Release()
	c.hints.learn(rec)
	return Batch{Partition: c.partition, Record: rec}
}

// Encode converts td into one Batch per partition (signal
// logarchive.SignalTraces). A span's row time is its start, else its end,
// else now. The caller owns the returned records and must Release them.
func (e *SpanEncoder) Encode(td ptrace.Traces, now time.Time) ([]Batch, error) {
	parts := newPartitionSet(e.layout, logarchive.SignalTraces, e.newColumns)
	res := e.newResourceRow()
	recPromoted := make([]pcommon.Value, len(e.promoted))
	nowNanos := now.UnixNano()
	leftInRequest := td.SpanCount()

	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		e.loadResource(rs.Resource(), &res)
		sss := rs.ScopeSpans()
		leftInResource := 0
		for j := 0; j < sss.Len(); j++ {
			leftInResource += sss.At(j).Spans().Len()
		}
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				tsNanos := int64(sp.StartTimestamp())
				if tsNanos == 0 {
					tsNanos = int64(sp.EndTimestamp())
				}
				if tsNanos == 0 {
					tsNanos = nowNanos
				}
				c := parts.get(res.service, tsNanos, parts.rowsHint(leftInResource, leftInRequest))
				leftInResource--
				leftInRequest--
				e.appendRow(c, &res, scope, sp, tsNanos, recPromoted)
			}
		}
	}
	return parts.batches(), nil
}

// enumName is an enum's pdata name, or its number for values unknown to
// this pdata version (so nothing is lost).
func enumName(name string, n int64) string {
	if name != "" {
		return name
	}
	return strconv.FormatInt(n, 10)
}

func appendID(b *array.FixedSizeBinaryBuilder, id []byte, empty bool) {
	if empty {
		b.AppendNull()
		return
	}
	b.Append(id)
}

func (e *SpanEncoder) appendRow(c *spanColumns, res *resourceRow, scope pcommon.InstrumentationScope, sp ptrace.Span, tsNanos int64, recPromoted []pcommon.Value) {
	start, end := sp.StartTimestamp(), sp.EndTimestamp()
	c.start.Append(arrow.Timestamp(tsNanos / 1000))
	if start != 0 {
		c.startNano.Append(int64(start))
	} else {
		c.startNano.AppendNull()
	}
	appendTimeOrNull(c.end, c.endNano, end)
	if start != 0 && end != 0 {
		c.duration.Append(int64(end) - int64(start))
	} else {
		c.duration.AppendNull()
	}
	tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
	appendID(c.traceID, tid[:], tid.IsEmpty())
	appendID(c.spanID, sid[:], sid.IsEmpty())
	appendID(c.parentSpanID, pid[:], pid.IsEmpty())
	appendNullableString(c.traceState, sp.TraceState().AsRaw())
	c.flags.Append(int64(sp.Flags()))
	appendNullableString(c.name, sp.Name())
	c.kind.Append(enumName(sp.Kind().String(), int64(sp.Kind())))
	c.statusCode.Append(enumName(sp.Status().Code().String(), int64(sp.Status().Code())))
	appendNullableString(c.statusMessage, sp.Status().Message())
	appendService(c.service, res)
	appendNullableString(c.scopeName, scope.Name())
	appendNullableString(c.scopeVer, scope.Version())
	c.droppedAttrs.Append(int64(sp.DroppedAttributesCount()))
	c.droppedEvents.Append(int64(sp.DroppedEventsCount()))
	c.droppedLinks.Append(int64(sp.DroppedLinksCount()))

	e.appendRecordAttributes(&c.attrs, sp.Attributes(), recPromoted)
	e.appendPromotedColumns(c.promoted, res, recPromoted)
	c.resAttrs.appendResource(res)

	evs := sp.Events()
	c.events.list.Append(true)
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		c.events.elem.Append(true)
		appendTimeOrNull(c.events.time, c.events.timeNano, ev.Timestamp())
		appendNullableString(c.events.name, ev.Name())
		c.events.attrs.appendMap(ev.Attributes())
		c.events.dropped.Append(int64(ev.DroppedAttributesCount()))
	}
	lks := sp.Links()
	c.links.list.Append(true)
	for i := 0; i < lks.Len(); i++ {
		lk := lks.At(i)
		c.links.elem.Append(true)
		ltid, lsid := lk.TraceID(), lk.SpanID()
		appendID(c.links.traceID, ltid[:], ltid.IsEmpty())
		appendID(c.links.spanID, lsid[:], lsid.IsEmpty())
		appendNullableString(c.links.traceState, lk.TraceState().AsRaw())
		c.links.flags.Append(int64(lk.Flags()))
		c.links.attrs.appendMap(lk.Attributes())
		c.links.dropped.Append(int64(lk.DroppedAttributesCount()))
	}
}
