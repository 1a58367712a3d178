// Package rowenc turns OTLP log records and spans into Arrow record batches
// of the archive schemas (internal/logarchive), one batch per partition.
package rowenc

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Encoder converts plog.Logs into per-partition Arrow batches. It is
// immutable after NewEncoder and safe for concurrent use.
type Encoder struct {
	schema *arrow.Schema
	layout *logarchive.Layout
	mem    memory.Allocator
	hints  *sizeHints
	promoter
}

// NewEncoder returns an Encoder for the given promoted columns and layout.
func NewEncoder(promoted []logarchive.PromotedColumn, layout *logarchive.Layout, mem memory.Allocator) (*Encoder, error) {
	schema, err := logarchive.LogSchema(promoted)
	if err != nil {
		return nil, err
	}
	return &Encoder{schema: schema, layout: layout, mem: mem, hints: newSizeHints(schema), promoter: newPromoter(promoted)}, nil
}

// Schema returns the Arrow schema of the batches.
func (e *Encoder) Schema() *arrow.Schema { return e.schema }

// columns holds typed builders of one partition batch.
type columns struct {
	rb        *array.RecordBuilder
	ts        *array.TimestampBuilder
	tsNano    *array.Int64Builder
	obs       *array.TimestampBuilder
	obsNano   *array.Int64Builder
	sevNum    *array.Int32Builder
	sevText   *array.StringBuilder
	body      *array.StringBuilder
	traceID   *array.FixedSizeBinaryBuilder
	spanID    *array.FixedSizeBinaryBuilder
	flags     *array.Int64Builder
	eventName *array.StringBuilder
	service   *array.StringBuilder
	scopeName *array.StringBuilder
	scopeVer  *array.StringBuilder
	promoted  []array.Builder
	attrs     mapColumn
	resAttrs  mapColumn
	partition logarchive.Partition
	hints     *sizeHints
}

func (e *Encoder) newColumns(p logarchive.Partition, rowsHint int) *columns {
	rb := array.NewRecordBuilder(e.mem, e.schema)
	e.hints.reserve(rb, rowsHint)
	c := &columns{rb: rb, partition: p, hints: e.hints}
	c.ts = rb.Field(0).(*array.TimestampBuilder)
	c.tsNano = rb.Field(1).(*array.Int64Builder)
	c.obs = rb.Field(2).(*array.TimestampBuilder)
	c.obsNano = rb.Field(3).(*array.Int64Builder)
	c.sevNum = rb.Field(4).(*array.Int32Builder)
	c.sevText = rb.Field(5).(*array.StringBuilder)
	c.body = rb.Field(6).(*array.StringBuilder)
	c.traceID = rb.Field(7).(*array.FixedSizeBinaryBuilder)
	c.spanID = rb.Field(8).(*array.FixedSizeBinaryBuilder)
	c.flags = rb.Field(9).(*array.Int64Builder)
	c.eventName = rb.Field(10).(*array.StringBuilder)
	c.service = rb.Field(11).(*array.StringBuilder)
	c.scopeName = rb.Field(12).(*array.StringBuilder)
	c.scopeVer = rb.Field(13).(*array.StringBuilder)
	n := logarchive.NumLeadingColumns
	for i := range e.promoted {
		c.promoted = append(c.promoted, rb.Field(n+i))
	}
	c.attrs = newMapColumn(rb.Field(n + len(e.promoted)))
	c.resAttrs = newMapColumn(rb.Field(n + len(e.promoted) + 1))
	return c
}

func (c *columns) finish() Batch {
	rec := c.rb.NewRecordBatch()
	c.rb.Release()
	c.hints.learn(rec)
	return Batch{Partition: c.partition, Record: rec}
}

// Encode converts ld into one Batch per partition. now stands in for the
// row time when a record has neither Timestamp nor ObservedTimestamp. The
// caller owns the returned records and must Release them.
func (e *Encoder) Encode(ld plog.Logs, signal string, now time.Time) ([]Batch, error) {
	parts := newPartitionSet(e.layout, signal, e.newColumns)
	res := e.newResourceRow()
	recPromoted := make([]pcommon.Value, len(e.promoted))
	nowNanos := now.UnixNano()
	leftInRequest := ld.LogRecordCount()

	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		e.loadResource(rl.Resource(), &res)
		sls := rl.ScopeLogs()
		leftInResource := 0
		for j := 0; j < sls.Len(); j++ {
			leftInResource += sls.At(j).LogRecords().Len()
		}
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scope := sl.Scope()
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				tsNanos := int64(lr.Timestamp())
				if tsNanos == 0 {
					tsNanos = int64(lr.ObservedTimestamp())
				}
				if tsNanos == 0 {
					tsNanos = nowNanos
				}
				c := parts.get(res.service, tsNanos, parts.rowsHint(leftInResource, leftInRequest))
				leftInResource--
				leftInRequest--
				e.appendRow(c, &res, scope, lr, tsNanos, recPromoted)
			}
		}
	}
	return parts.batches(), nil
}

func (e *Encoder) appendRow(c *columns, res *resourceRow, scope pcommon.InstrumentationScope, lr plog.LogRecord, tsNanos int64, recPromoted []pcommon.Value) {
	c.ts.Append(arrow.Timestamp(tsNanos / 1000))
	if t := lr.Timestamp(); t != 0 {
		c.tsNano.Append(int64(t))
	} else {
		c.tsNano.AppendNull()
	}
	appendTimeOrNull(c.obs, c.obsNano, lr.ObservedTimestamp())
	c.sevNum.Append(int32(lr.SeverityNumber()))
	appendNullableString(c.sevText, lr.SeverityText())
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeEmpty:
		c.body.AppendNull()
	case pcommon.ValueTypeStr:
		c.body.Append(validUTF8(body.Str()))
	default:
		c.body.Append(validUTF8(body.AsString()))
	}
	if tid := lr.TraceID(); !tid.IsEmpty() {
		c.traceID.Append(tid[:])
	} else {
		c.traceID.AppendNull()
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		c.spanID.Append(sid[:])
	} else {
		c.spanID.AppendNull()
	}
	c.flags.Append(int64(lr.Flags()))
	appendNullableString(c.eventName, lr.EventName())
	appendService(c.service, res)
	appendNullableString(c.scopeName, scope.Name())
	appendNullableString(c.scopeVer, scope.Version())

	e.appendRecordAttributes(&c.attrs, lr.Attributes(), recPromoted)
	e.appendPromotedColumns(c.promoted, res, recPromoted)
	c.resAttrs.appendResource(res)
}
