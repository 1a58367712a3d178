// Package rowenc turns OTLP log records into Arrow record batches of the
// archive schema (internal/logarchive), one batch per partition.
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

// serviceNameKey is the resource attribute that becomes service_name.
const serviceNameKey = "service.name"

// Batch is the rows of one partition taken from one plog.Logs.
type Batch struct {
	Partition logarchive.Partition
	Record    arrow.RecordBatch
}

// Encoder converts plog.Logs into per-partition Arrow batches. It is
// immutable after NewEncoder and safe for concurrent use.
type Encoder struct {
	schema   *arrow.Schema
	layout   *logarchive.Layout
	mem      memory.Allocator
	promoted []logarchive.PromotedColumn
	byRecord map[string]int // record attribute key → promoted index
	byRes    map[string]int // resource attribute key → promoted index
}

// NewEncoder returns an Encoder for the given promoted columns and layout.
func NewEncoder(promoted []logarchive.PromotedColumn, layout *logarchive.Layout, mem memory.Allocator) (*Encoder, error) {
	schema, err := logarchive.LogSchema(promoted)
	if err != nil {
		return nil, err
	}
	e := &Encoder{
		schema: schema, layout: layout, mem: mem, promoted: promoted,
		byRecord: map[string]int{}, byRes: map[string]int{},
	}
	for i, p := range promoted {
		if p.Source == logarchive.SourceResource {
			e.byRes[p.Key] = i
		} else {
			e.byRecord[p.Key] = i
		}
	}
	return e, nil
}

// Schema returns the Arrow schema of the batches.
func (e *Encoder) Schema() *arrow.Schema { return e.schema }

// partitionKey identifies a partition within one Encode call.
type partitionKey struct {
	service string
	start   int64
}

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
	attrs     *array.MapBuilder
	attrKeys  *array.StringBuilder
	attrVals  *array.StringBuilder
	resAttrs  *array.MapBuilder
	resKeys   *array.StringBuilder
	resVals   *array.StringBuilder
	partition logarchive.Partition
}

func (e *Encoder) newColumns(p logarchive.Partition) *columns {
	rb := array.NewRecordBuilder(e.mem, e.schema)
	c := &columns{rb: rb, partition: p}
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
	c.attrs = rb.Field(n + len(e.promoted)).(*array.MapBuilder)
	c.attrKeys = c.attrs.KeyBuilder().(*array.StringBuilder)
	c.attrVals = c.attrs.ItemBuilder().(*array.StringBuilder)
	c.resAttrs = rb.Field(n + len(e.promoted) + 1).(*array.MapBuilder)
	c.resKeys = c.resAttrs.KeyBuilder().(*array.StringBuilder)
	c.resVals = c.resAttrs.ItemBuilder().(*array.StringBuilder)
	return c
}

// resourceRow is what every record of one ResourceLogs shares.
type resourceRow struct {
	service    string
	hasService bool
	attrs      []kv            // resource attributes that go to the map
	promoted   []pcommon.Value // per promoted column; zero Value when absent/not resource-sourced
}

type kv struct{ k, v string }

// Encode converts ld into one Batch per partition. now stands in for the
// row time when a record has neither Timestamp nor ObservedTimestamp. The
// caller owns the returned records and must Release them.
func (e *Encoder) Encode(ld plog.Logs, signal string, now time.Time) ([]Batch, error) {
	parts := make(map[partitionKey]*columns, 1)
	order := make([]*columns, 0, 1)
	res := resourceRow{promoted: make([]pcommon.Value, len(e.promoted))}
	recPromoted := make([]pcommon.Value, len(e.promoted))
	nowNanos := now.UnixNano()
	gran := e.layout.Granularity()

	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		e.loadResource(rl.Resource(), &res)
		sls := rl.ScopeLogs()
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
				start := time.Unix(0, tsNanos).UTC().Truncate(gran)
				svc := res.service
				if !e.layout.ByService() {
					svc = ""
				}
				key := partitionKey{service: svc, start: start.UnixNano()}
				c := parts[key]
				if c == nil {
					c = e.newColumns(logarchive.Partition{Signal: signal, Service: svc, Start: start})
					parts[key] = c
					order = append(order, c)
				}
				e.appendRow(c, &res, scope, lr, tsNanos, recPromoted)
			}
		}
	}
	out := make([]Batch, 0, len(order))
	for _, c := range order {
		rec := c.rb.NewRecordBatch()
		c.rb.Release()
		out = append(out, Batch{Partition: c.partition, Record: rec})
	}
	return out, nil
}

func (e *Encoder) loadResource(r pcommon.Resource, res *resourceRow) {
	res.service, res.hasService = "", false
	res.attrs = res.attrs[:0]
	for i := range res.promoted {
		res.promoted[i] = pcommon.Value{}
	}
	r.Attributes().Range(func(k string, v pcommon.Value) bool {
		if k == serviceNameKey && v.Type() == pcommon.ValueTypeStr {
			res.service, res.hasService = v.Str(), true
			return true
		}
		if idx, ok := e.byRes[k]; ok && matches(e.promoted[idx].Type, v) {
			res.promoted[idx] = v
			return true
		}
		res.attrs = append(res.attrs, kv{k, v.AsString()})
		return true
	})
}

// matches reports whether v has the promoted column's type; other values stay
// in the attribute map.
func matches(t logarchive.ColumnType, v pcommon.Value) bool {
	switch t {
	case logarchive.TypeString:
		return v.Type() == pcommon.ValueTypeStr
	case logarchive.TypeInt:
		return v.Type() == pcommon.ValueTypeInt
	case logarchive.TypeDouble:
		return v.Type() == pcommon.ValueTypeDouble
	case logarchive.TypeBool:
		return v.Type() == pcommon.ValueTypeBool
	}
	return false
}

func appendNullableString(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
		return
	}
	b.Append(s)
}

func (e *Encoder) appendRow(c *columns, res *resourceRow, scope pcommon.InstrumentationScope, lr plog.LogRecord, tsNanos int64, recPromoted []pcommon.Value) {
	c.ts.Append(arrow.Timestamp(tsNanos / 1000))
	if t := lr.Timestamp(); t != 0 {
		c.tsNano.Append(int64(t))
	} else {
		c.tsNano.AppendNull()
	}
	if t := lr.ObservedTimestamp(); t != 0 {
		c.obs.Append(arrow.Timestamp(int64(t) / 1000))
		c.obsNano.Append(int64(t))
	} else {
		c.obs.AppendNull()
		c.obsNano.AppendNull()
	}
	c.sevNum.Append(int32(lr.SeverityNumber()))
	appendNullableString(c.sevText, lr.SeverityText())
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeEmpty:
		c.body.AppendNull()
	case pcommon.ValueTypeStr:
		c.body.Append(body.Str())
	default:
		c.body.Append(body.AsString())
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
	if res.hasService {
		c.service.Append(res.service)
	} else {
		c.service.AppendNull()
	}
	appendNullableString(c.scopeName, scope.Name())
	appendNullableString(c.scopeVer, scope.Version())

	for i := range recPromoted {
		recPromoted[i] = pcommon.Value{}
	}
	c.attrs.Append(true)
	lr.Attributes().Range(func(k string, v pcommon.Value) bool {
		if idx, ok := e.byRecord[k]; ok && matches(e.promoted[idx].Type, v) {
			recPromoted[idx] = v
			return true
		}
		c.attrKeys.Append(k)
		if v.Type() == pcommon.ValueTypeStr {
			c.attrVals.Append(v.Str())
		} else {
			c.attrVals.Append(v.AsString())
		}
		return true
	})
	for i, p := range e.promoted {
		v := recPromoted[i]
		if p.Source == logarchive.SourceResource {
			v = res.promoted[i]
		}
		appendPromoted(c.promoted[i], p.Type, v)
	}
	c.resAttrs.Append(true)
	for _, a := range res.attrs {
		c.resKeys.Append(a.k)
		c.resVals.Append(a.v)
	}
}

// appendPromoted appends v (already type-checked by matches) or a null when
// v is the zero Value (attribute absent or of another type).
func appendPromoted(b array.Builder, t logarchive.ColumnType, v pcommon.Value) {
	if v == (pcommon.Value{}) {
		b.AppendNull()
		return
	}
	switch t {
	case logarchive.TypeString:
		b.(*array.StringBuilder).Append(v.Str())
	case logarchive.TypeInt:
		b.(*array.Int64Builder).Append(v.Int())
	case logarchive.TypeDouble:
		b.(*array.Float64Builder).Append(v.Double())
	case logarchive.TypeBool:
		b.(*array.BooleanBuilder).Append(v.Bool())
	default:
		b.AppendNull() // unreachable: ValidatePromoted rejects unknown types
	}
}
