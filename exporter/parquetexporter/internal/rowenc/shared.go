package rowenc

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sluicelogs/sluice/internal/logarchive"
	"github.com/sluicelogs/sluice/internal/validutf8"
)

// serviceNameKey is the resource attribute that becomes service_name.
const serviceNameKey = "service.name"

// Batch is the rows of one partition taken from one request.
type Batch struct {
	Partition logarchive.Partition
	Record    arrow.RecordBatch
}

// partitionKey identifies a partition within one Encode call.
type partitionKey struct {
	service string
	start   int64
}

// partitionSet groups the rows of one Encode call by partition, keeping
// partitions in order of first appearance. C is a signal's column builders.
type partitionSet[C interface{ finish() Batch }] struct {
	layout  *logarchive.Layout
	signal  string
	gran    time.Duration
	parts   map[partitionKey]C
	order   []C
	newCols func(p logarchive.Partition, rowsHint int) C
}

func newPartitionSet[C interface{ finish() Batch }](layout *logarchive.Layout, signal string, newCols func(logarchive.Partition, int) C) *partitionSet[C] {
	return &partitionSet[C]{
		layout: layout, signal: signal, gran: layout.Granularity(),
		parts: make(map[partitionKey]C, 1), order: make([]C, 0, 1), newCols: newCols,
	}
}

// rowsHint is how many rows a partition opened now may receive: the rows
// left in the current resource when partitions are per service, else the
// rows left in the request.
func (s *partitionSet[C]) rowsHint(leftInResource, leftInRequest int) int {
	if s.layout.ByService() {
		return leftInResource
	}
	return leftInRequest
}

// get returns the builders of the partition holding a row of service at
// tsNanos, creating them on first use sized for rowsHint rows.
func (s *partitionSet[C]) get(service string, tsNanos int64, rowsHint int) C {
	start := time.Unix(0, tsNanos).UTC().Truncate(s.gran)
	if !s.layout.ByService() {
		service = ""
	}
	key := partitionKey{service: service, start: start.UnixNano()}
	c, ok := s.parts[key]
	if !ok {
		c = s.newCols(logarchive.Partition{Signal: s.signal, Service: service, Start: start}, rowsHint)
		s.parts[key] = c
		s.order = append(s.order, c)
	}
	return c
}

// batches finishes every partition into its record batch.
func (s *partitionSet[C]) batches() []Batch {
	out := make([]Batch, 0, len(s.order))
	for _, c := range s.order {
		out = append(out, c.finish())
	}
	return out
}

// promoter lifts configured attributes out of the attribute maps.
type promoter struct {
	promoted []logarchive.PromotedColumn
	byRecord map[string]int // record attribute key → promoted index
	byRes    map[string]int // resource attribute key → promoted index
}

func newPromoter(promoted []logarchive.PromotedColumn) promoter {
	p := promoter{promoted: promoted, byRecord: map[string]int{}, byRes: map[string]int{}}
	for i, c := range promoted {
		if c.Source == logarchive.SourceResource {
			p.byRes[c.Key] = i
		} else {
			p.byRecord[c.Key] = i
		}
	}
	return p
}

// resourceRow is what every row of one resource shares.
type resourceRow struct {
	service    string
	hasService bool
	attrs      []kv            // resource attributes that go to the map
	promoted   []pcommon.Value // per promoted column; zero Value when absent/not resource-sourced
}

type kv struct{ k, v string }

func (p *promoter) newResourceRow() resourceRow {
	return resourceRow{promoted: make([]pcommon.Value, len(p.promoted))}
}

func (p *promoter) loadResource(r pcommon.Resource, res *resourceRow) {
	res.service, res.hasService = "", false
	res.attrs = res.attrs[:0]
	for i := range res.promoted {
		res.promoted[i] = pcommon.Value{}
	}
	r.Attributes().Range(func(k string, v pcommon.Value) bool {
		if k == serviceNameKey && v.Type() == pcommon.ValueTypeStr {
			res.service, res.hasService = validUTF8(v.Str()), true
			return true
		}
		if idx, ok := p.byRes[k]; ok && matches(p.promoted[idx].Type, v) {
			res.promoted[idx] = v
			return true
		}
		res.attrs = append(res.attrs, kv{validUTF8(k), validUTF8(v.AsString())})
		return true
	})
}

// appendRecordAttributes appends attrs minus the promoted ones to m and
// fills recPromoted (reset first) with the promoted values.
func (p *promoter) appendRecordAttributes(m *mapColumn, attrs pcommon.Map, recPromoted []pcommon.Value) {
	for i := range recPromoted {
		recPromoted[i] = pcommon.Value{}
	}
	m.b.Append(true)
	attrs.Range(func(k string, v pcommon.Value) bool {
		if idx, ok := p.byRecord[k]; ok && matches(p.promoted[idx].Type, v) {
			recPromoted[idx] = v
			return true
		}
		m.appendEntry(k, v)
		return true
	})
}

// appendPromotedColumns appends one value (or null) to every promoted column.
func (p *promoter) appendPromotedColumns(cols []array.Builder, res *resourceRow, recPromoted []pcommon.Value) {
	for i, c := range p.promoted {
		v := recPromoted[i]
		if c.Source == logarchive.SourceResource {
			v = res.promoted[i]
		}
		appendPromoted(cols[i], c.Type, v)
	}
}

// mapColumn is a MAP<string,string> builder with its key and item builders.
type mapColumn struct {
	b    *array.MapBuilder
	keys *array.StringBuilder
	vals *array.StringBuilder
}

func newMapColumn(b array.Builder) mapColumn {
	mb := b.(*array.MapBuilder)
	return mapColumn{b: mb, keys: mb.KeyBuilder().(*array.StringBuilder), vals: mb.ItemBuilder().(*array.StringBuilder)}
}

// appendEntry appends one entry: string values verbatim, others as JSON.
func (m *mapColumn) appendEntry(k string, v pcommon.Value) {
	m.keys.Append(validUTF8(k))
	if v.Type() == pcommon.ValueTypeStr {
		m.vals.Append(validUTF8(v.Str()))
	} else {
		m.vals.Append(validUTF8(v.AsString()))
	}
}

// appendMap appends one map value holding every entry of attrs.
func (m *mapColumn) appendMap(attrs pcommon.Map) {
	m.b.Append(true)
	attrs.Range(func(k string, v pcommon.Value) bool {
		m.appendEntry(k, v)
		return true
	})
}

// appendResource appends the resource attributes that go to the map.
func (m *mapColumn) appendResource(res *resourceRow) {
	m.b.Append(true)
	for _, a := range res.attrs {
		m.keys.Append(a.k)
		m.vals.Append(a.v)
	}
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
	b.Append(validUTF8(s))
}

// validUTF8 makes s valid UTF-8 (each invalid byte U+FFFD, as the opensearch
// exporter's JSON does). Parquet strings are UTF-8 by definition and readers
// refuse a file holding one that is not (pyarrow: UnicodeDecodeError); OTLP
// and Kafka input pass such bytes through, and an invalid service.name would
// also make an invalid partition path or S3 key.
func validUTF8(s string) string { return validutf8.String(s) }

// appendService appends the resource's service.name or a null.
func appendService(b *array.StringBuilder, res *resourceRow) {
	if res.hasService {
		b.Append(res.service)
	} else {
		b.AppendNull()
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
		b.(*array.StringBuilder).Append(validUTF8(v.Str()))
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

// nanosOrNull appends t in exact nanoseconds and microseconds, or nulls when unset.
func appendTimeOrNull(ts *array.TimestampBuilder, nanos *array.Int64Builder, t pcommon.Timestamp) {
	if t == 0 {
		ts.AppendNull()
		nanos.AppendNull()
		return
	}
	ts.Append(arrow.Timestamp(int64(t) / 1000))
	nanos.Append(int64(t))
}
