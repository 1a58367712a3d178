package pqbuild

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/rowenc"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// encodeBatches builds two batches (out of order, two services) through the
// real encoder, one per Encode call.
func encodeBatches(t *testing.T, mem memory.Allocator) (*arrow.Schema, []arrow.RecordBatch, [16]byte) {
	t.Helper()
	layout, err := logarchive.NewLayout("{signal}/dt={date}") // no service partition: both services in one file
	if err != nil {
		t.Fatal(err)
	}
	enc, err := rowenc.NewEncoder(nil, layout, mem)
	if err != nil {
		t.Fatal(err)
	}
	var probe [16]byte
	var recs []arrow.RecordBatch
	for b := 0; b < 2; b++ {
		ld := plog.NewLogs()
		for _, svc := range []string{"zeta", "alpha"} {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", svc)
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for i := 0; i < 500; i++ {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(1000-i-b*500) * time.Second)))
				var tid [16]byte
				tid[0], tid[1], tid[2] = byte(b), byte(i), byte(i>>8)
				tid[15] = 1
				lr.SetTraceID(tid)
				lr.Body().SetStr("request handled")
				probe = tid
			}
		}
		batches, err := enc.Encode(ld, logarchive.SignalLogs, base)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) != 1 {
			t.Fatalf("batches = %d", len(batches))
		}
		recs = append(recs, batches[0].Record)
	}
	return enc.Schema(), recs, probe
}

func TestWriteSortedWithStatsBloomAndPageIndex(t *testing.T) {
	// Not a checked allocator: arrow-go frees bloom filter buffers through
	// runtime cleanups (after GC), not explicitly.
	mem := memory.DefaultAllocator
	schema, recs, probe := encodeBatches(t, mem)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var buf bytes.Buffer
	res, err := Write(context.Background(), &buf, schema, recs, Options{
		CompressionLevel: 3, RowGroupRows: 1500, DataPageSize: 8 << 10,
		BloomFilter: true, BloomFilterNDV: 1000, BloomFilterFPP: 0.01, PageIndex: true,
	}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2000 || res.RowGroups != 2 {
		t.Fatalf("result = %+v", res)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	md := rdr.MetaData()
	svcCol := md.Schema.ColumnIndexByName(logarchive.ColServiceName)
	tsCol := md.Schema.ColumnIndexByName(logarchive.ColTimestamp)
	traceCol := md.Schema.ColumnIndexByName(logarchive.ColTraceID)

	// Sorted by service then time: rows 0-999 are "alpha", so the second
	// row group (rows 1500-1999) is all "zeta".
	rg0 := md.RowGroup(0)
	cc, err := md.RowGroup(1).ColumnChunk(svcCol)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cc.Statistics()
	if err != nil || st == nil {
		t.Fatalf("service stats: %v %v", st, err)
	}
	bs := st.(*metadata.ByteArrayStatistics)
	if string(bs.Min()) != "zeta" || string(bs.Max()) != "zeta" {
		t.Fatalf("row group 1 service range = %q..%q", bs.Min(), bs.Max())
	}
	if cc.Compression() != compress.Codecs.Zstd {
		t.Fatalf("compression = %v", cc.Compression())
	}
	if sc := rg0.SortingColumns(); len(sc) != 2 || int(sc[0].ColumnIdx) != svcCol || int(sc[1].ColumnIdx) != tsCol {
		t.Fatalf("sorting columns = %+v", sc)
	}
	tcc, err := rg0.ColumnChunk(tsCol)
	if err != nil {
		t.Fatal(err)
	}
	tst, err := tcc.Statistics()
	if err != nil {
		t.Fatal(err)
	}
	ist := tst.(*metadata.Int64Statistics)
	if ist.Min() >= ist.Max() {
		t.Fatalf("timestamp stats %d..%d", ist.Min(), ist.Max())
	}

	// The bloom filter finds a written id and rejects most absent ones.
	bfr := rdr.GetBloomFilterReader()
	found, falsePos := false, 0
	for i := 0; i < md.NumRowGroups(); i++ {
		rgbf, err := bfr.RowGroup(i)
		if err != nil {
			t.Fatal(err)
		}
		bf, err := rgbf.GetColumnBloomFilter(traceCol)
		if err != nil || bf == nil {
			t.Fatalf("row group %d has no trace_id bloom filter: %v", i, err)
		}
		typed := metadata.TypedBloomFilter[parquet.FixedLenByteArray]{BloomFilter: bf}
		if typed.Check(probe[:]) {
			found = true
		}
		for j := 0; j < 200; j++ {
			absent := [16]byte{0xee, byte(j), 0xaa}
			if typed.Check(absent[:]) {
				falsePos++
			}
		}
	}
	if !found {
		t.Fatal("bloom filter misses a written trace id")
	}
	if falsePos > 20 {
		t.Fatalf("bloom filter false positives %d/400", falsePos)
	}

	// Page index is present with several pages for the timestamp column.
	pir, err := rdr.GetPageIndexReader().RowGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	oi, err := pir.GetOffsetIndex(traceCol)
	if err != nil || oi == nil {
		t.Fatalf("offset index: %v %v", oi, err)
	}
	if n := len(oi.GetPageLocations()); n < 2 {
		t.Fatalf("trace_id pages in row group 0 = %d, want several", n)
	}
}

func TestWriteEmpty(t *testing.T) {
	if _, err := Write(context.Background(), &bytes.Buffer{}, arrow.NewSchema(nil, nil), nil, Options{}, memory.DefaultAllocator); err == nil {
		t.Fatal("writing no rows succeeded")
	}
}

// TestBloomFilterSizedForSmallFiles checks the trace_id filter of a small
// file is sized by its trace ids, not by the configured per-row-group NDV
// (a 100k NDV filter alone would be 128 KiB), and still finds its ids.
func TestBloomFilterSizedForSmallFiles(t *testing.T) {
	mem := memory.DefaultAllocator
	schema, recs, probe := encodeBatches(t, mem) // 2000 rows, all with trace ids
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, schema, recs, Options{
		CompressionLevel: 3, RowGroupRows: 1 << 20, DataPageSize: 1 << 20,
		BloomFilter: true, BloomFilterNDV: 100_000, BloomFilterFPP: 0.01,
	}, mem); err != nil {
		t.Fatal(err)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	traceCol := rdr.MetaData().Schema.ColumnIndexByName(logarchive.ColTraceID)
	cc, err := rdr.MetaData().RowGroup(0).ColumnChunk(traceCol)
	if err != nil {
		t.Fatal(err)
	}
	// 2000 ids at 1 % need ~19 kbit: the power of two above is 4 KiB.
	if n := cc.BloomFilterLength(); n <= 0 || n > 8<<10 {
		t.Fatalf("bloom filter length = %d bytes, want (0, 8 KiB] for 2000 ids", n)
	}
	rgbf, err := rdr.GetBloomFilterReader().RowGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := rgbf.GetColumnBloomFilter(traceCol)
	if err != nil || bf == nil {
		t.Fatalf("no bloom filter: %v", err)
	}
	if !(&metadata.TypedBloomFilter[parquet.FixedLenByteArray]{BloomFilter: bf}).Check(probe[:]) {
		t.Fatal("bloom filter misses a written trace id")
	}
}
