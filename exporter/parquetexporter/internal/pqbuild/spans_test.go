package pqbuild

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/rowenc"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// TestWriteSpansSortedByServiceAndStart writes out-of-order spans of two
// services with events and checks rows come back sorted by (service_name,
// start_time) with their nested columns moved along, and the span encodings.
func TestWriteSpansSortedByServiceAndStart(t *testing.T) {
	mem := memory.DefaultAllocator
	schema, rec := encodeSpans(t, mem, 300, func(sp ptrace.Span, i int, start time.Time) {
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		// The event name carries the start second so the check below
		// sees whether nested values followed their row.
		for e := 0; e < i%3; e++ {
			sp.Events().AppendEmpty().SetName(start.Format("150405"))
		}
	})
	defer rec.Release()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, schema, []arrow.RecordBatch{rec}, Options{
		CompressionLevel: 3, RowGroupRows: 1 << 20, DataPageSize: 64 << 10, BloomFilter: true, BloomFilterNDV: 1000, BloomFilterFPP: 0.01,
	}, mem); err != nil {
		t.Fatal(err)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	md := rdr.MetaData()
	svcCol := md.Schema.ColumnIndexByName(logarchive.ColServiceName)
	startCol := md.Schema.ColumnIndexByName(logarchive.ColStartTime)
	if sc := md.RowGroup(0).SortingColumns(); len(sc) != 2 || int(sc[0].ColumnIdx) != svcCol || int(sc[1].ColumnIdx) != startCol {
		t.Fatalf("sorting columns = %+v", sc)
	}
	cc, err := md.RowGroup(0).ColumnChunk(startCol)
	if err != nil {
		t.Fatal(err)
	}
	hasDelta := false
	for _, e := range cc.Encodings() {
		hasDelta = hasDelta || e == parquet.Encodings.DeltaBinaryPacked
	}
	if !hasDelta {
		t.Fatalf("start_time encodings = %v, want DELTA_BINARY_PACKED", cc.Encodings())
	}
	tcc, err := md.RowGroup(0).ColumnChunk(md.Schema.ColumnIndexByName(logarchive.ColTraceID))
	if err != nil {
		t.Fatal(err)
	}
	if tcc.HasDictionaryPage() {
		t.Fatal("trace_id must not be dictionary-encoded")
	}

	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if logarchive.SignalOfSchema(sc) != logarchive.SignalTraces {
		t.Fatal("stored Arrow schema lost the signal metadata")
	}
	svc := tbl.Column(tbl.Schema().FieldIndices(logarchive.ColServiceName)[0]).Data().Chunk(0).(*array.String)
	start := tbl.Column(startCol).Data().Chunk(0).(*array.Timestamp)
	events := tbl.Column(tbl.Schema().FieldIndices(logarchive.ColEvents)[0]).Data().Chunk(0).(*array.List)
	names := events.ListValues().(*array.Struct).Field(2).(*array.String)
	for i := 1; i < svc.Len(); i++ {
		if svc.Value(i) < svc.Value(i-1) || svc.Value(i) == svc.Value(i-1) && start.Value(i) < start.Value(i-1) {
			t.Fatalf("row %d out of order", i)
		}
	}
	if svc.Value(0) != "alpha" {
		t.Fatalf("first service = %s", svc.Value(0))
	}
	for i := 0; i < events.Len(); i++ {
		want := start.Value(i).ToTime(arrow.Microsecond).UTC().Format("150405")
		s, e := events.ValueOffsets(i)
		for j := s; j < e; j++ {
			if names.Value(int(j)) != want {
				t.Fatalf("row %d: event %q does not belong to start %s", i, names.Value(int(j)), want)
			}
		}
	}
}

// encodeSpans encodes n spans for each of the services "zeta" and "alpha",
// started one second apart in reverse order and filled by fill, into one
// batch (no service partition).
func encodeSpans(t *testing.T, mem memory.Allocator, n int, fill func(sp ptrace.Span, i int, start time.Time)) (*arrow.Schema, arrow.RecordBatch) {
	t.Helper()
	layout, err := logarchive.NewLayout("{signal}/dt={date}")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := rowenc.NewSpanEncoder(nil, layout, mem)
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	for _, svc := range []string{"zeta", "alpha"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := 0; i < n; i++ {
			sp := spans.AppendEmpty()
			start := base.Add(time.Duration(n-i) * time.Second)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			fill(sp, i, start)
		}
	}
	batches, err := enc.Encode(td, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("batches = %d", len(batches))
	}
	return enc.Schema(), batches[0].Record
}
