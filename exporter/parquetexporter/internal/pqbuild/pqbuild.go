// Package pqbuild writes staged Arrow batches as one Parquet file, sorted by
// (service_name, timestamp), with the archive's encoding choices.
package pqbuild

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Options are the Parquet writer settings.
type Options struct {
	// CompressionLevel is the zstd level (1-22; arrow-go maps it to the
	// klauspost encoder's fastest/default/better/best levels).
	CompressionLevel int
	// RowGroupRows is the maximum number of rows per row group.
	RowGroupRows int64
	// DataPageSize is the target (uncompressed) data page size in bytes; it
	// sets the granularity of the page index.
	DataPageSize int64
	// BloomFilter writes a split-block bloom filter on trace_id.
	BloomFilter bool
	// BloomFilterNDV is the expected distinct trace ids per row group, which
	// sizes the filter; BloomFilterFPP its false-positive probability.
	BloomFilterNDV int64
	BloomFilterFPP float64
	// PageIndex writes column and offset indexes (page-level min/max).
	PageIndex bool
	// MapDictionary dictionary-encodes the attribute map keys and values
	// (smaller files, much slower writes).
	MapDictionary bool
}

// noCloseWriter hides the sink's Close from pqarrow, whose Close would
// otherwise close it before the caller can fsync.
type noCloseWriter struct{ w io.Writer }

func (n noCloseWriter) Write(p []byte) (int, error) { return n.w.Write(p) }

// writerProperties builds the parquet properties for schema.
func writerProperties(schema *arrow.Schema, o Options, mem memory.Allocator) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithMaxRowGroupLength(o.RowGroupRows),
		parquet.WithDataPageSize(o.DataPageSize),
		parquet.WithDataPageVersion(parquet.DataPageV1), // widest reader support
		parquet.WithStats(true),
		// Bodies are long and rarely range-filtered: their min/max would only
		// bloat the footer.
		parquet.WithStatsFor(logarchive.ColBody, false),
		parquet.WithPageIndexEnabled(o.PageIndex),
	}
	// Ids and nanosecond times are (nearly) unique: dictionaries only cost.
	for _, c := range []string{logarchive.ColBody, logarchive.ColTraceID, logarchive.ColSpanID, logarchive.ColTimeUnixNano, logarchive.ColObservedTimeUnixNano, logarchive.ColTimestamp, logarchive.ColObservedTimestamp} {
		props = append(props, parquet.WithDictionaryFor(c, false))
	}
	if !o.MapDictionary {
		// arrow-go's dictionary encoder allocates per value; on attribute
		// maps (~20 values per row) that halves throughput for ~8 % size.
		for _, c := range []string{"attributes.key_value.key", "attributes.key_value.value", "resource_attributes.key_value.key", "resource_attributes.key_value.value"} {
			props = append(props, parquet.WithDictionaryFor(c, false))
		}
	}
	// Sorted times delta-encode to a few bits per row.
	for _, c := range []string{logarchive.ColTimestamp, logarchive.ColTimeUnixNano, logarchive.ColObservedTimestamp, logarchive.ColObservedTimeUnixNano} {
		props = append(props, parquet.WithEncodingFor(c, parquet.Encodings.DeltaBinaryPacked))
	}
	if o.BloomFilter {
		props = append(props,
			parquet.WithBloomFilterEnabledFor(logarchive.ColTraceID, true),
			parquet.WithBloomFilterNDVFor(logarchive.ColTraceID, o.BloomFilterNDV),
			parquet.WithBloomFilterFPPFor(logarchive.ColTraceID, o.BloomFilterFPP),
		)
	}
	svc := schema.FieldIndices(logarchive.ColServiceName)
	ts := schema.FieldIndices(logarchive.ColTimestamp)
	if len(svc) == 1 && len(ts) == 1 {
		// Every column before the maps is a single leaf, so field index = leaf index.
		props = append(props, parquet.WithSortingColumns([]parquet.SortingColumn{
			{ColumnIdx: int32(svc[0]), NullsFirst: true},
			{ColumnIdx: int32(ts[0])},
		}))
	}
	return parquet.NewWriterProperties(props...)
}

// Result describes a written file.
type Result struct {
	Rows      int64
	RowGroups int
}

// Write sorts recs by (service_name, timestamp) and writes them to w as one
// Parquet file. recs must all have schema; w is not closed.
func Write(ctx context.Context, w io.Writer, schema *arrow.Schema, recs []arrow.RecordBatch, o Options, mem memory.Allocator) (Result, error) {
	if len(recs) == 0 {
		return Result{}, errors.New("no rows to write")
	}
	tbl := array.NewTableFromRecords(schema, recs)
	defer tbl.Release()
	sorted, err := sortTable(ctx, tbl, mem)
	if err != nil {
		return Result{}, err
	}
	defer sorted.Release()

	fw, err := pqarrow.NewFileWriter(schema, noCloseWriter{w}, writerProperties(schema, o, mem),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		return Result{}, fmt.Errorf("new parquet writer: %w", err)
	}
	if err := fw.WriteTable(sorted, o.RowGroupRows); err != nil {
		_ = fw.Close()
		return Result{}, fmt.Errorf("write parquet: %w", err)
	}
	if err := fw.Close(); err != nil {
		return Result{}, fmt.Errorf("close parquet: %w", err)
	}
	md, err := fw.FileMetadata()
	if err != nil {
		return Result{}, fmt.Errorf("parquet metadata: %w", err)
	}
	return Result{Rows: sorted.NumRows(), RowGroups: md.NumRowGroups()}, nil
}

type sortKey struct {
	service string
	null    bool
	ts      int64
	row     int64
}

// sortTable returns tbl ordered by (service_name nulls first, timestamp),
// stable; it returns tbl itself (retained) when already in order.
func sortTable(ctx context.Context, tbl arrow.Table, mem memory.Allocator) (arrow.Table, error) {
	svcIdx := tbl.Schema().FieldIndices(logarchive.ColServiceName)
	tsIdx := tbl.Schema().FieldIndices(logarchive.ColTimestamp)
	if len(svcIdx) != 1 || len(tsIdx) != 1 {
		return nil, fmt.Errorf("schema lacks %s or %s", logarchive.ColServiceName, logarchive.ColTimestamp)
	}
	keys := make([]sortKey, 0, tbl.NumRows())
	svcChunks := tbl.Column(svcIdx[0]).Data().Chunks()
	tsChunks := tbl.Column(tsIdx[0]).Data().Chunks()
	var row int64
	for c := range svcChunks {
		svc, ok1 := svcChunks[c].(*array.String)
		ts, ok2 := tsChunks[c].(*array.Timestamp)
		if !ok1 || !ok2 {
			return nil, errors.New("unexpected column types for sorting")
		}
		for i := 0; i < svc.Len(); i++ {
			k := sortKey{ts: int64(ts.Value(i)), row: row}
			if svc.IsNull(i) {
				k.null = true
			} else {
				k.service = svc.Value(i)
			}
			keys = append(keys, k)
			row++
		}
	}
	less := func(a, b sortKey) int {
		if a.null != b.null {
			if a.null {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.service, b.service); c != 0 {
			return c
		}
		return cmp.Compare(a.ts, b.ts)
	}
	if slices.IsSortedFunc(keys, less) {
		tbl.Retain()
		return tbl, nil
	}
	slices.SortStableFunc(keys, less)
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(len(keys))
	for _, k := range keys {
		ib.UnsafeAppend(k.row)
	}
	indices := ib.NewInt64Array()
	defer indices.Release()

	// Take column by column (rather than on the table) so an error in one
	// column is reported, not turned into a panic while cleaning up.
	ctx = compute.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, 0, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < int(tbl.NumCols()); i++ {
		chunks := tbl.Column(i).Data().Chunks()
		var values arrow.Array
		if len(chunks) == 1 {
			values = chunks[0]
			values.Retain()
		} else {
			var err error
			values, err = array.Concatenate(chunks, mem)
			if err != nil {
				return nil, fmt.Errorf("sort rows: concatenate %s: %w", tbl.Schema().Field(i).Name, err)
			}
		}
		taken, err := compute.TakeArray(ctx, values, indices)
		values.Release()
		if err != nil {
			return nil, fmt.Errorf("sort rows: take %s: %w", tbl.Schema().Field(i).Name, err)
		}
		cols = append(cols, taken)
	}
	rec := array.NewRecordBatch(tbl.Schema(), cols, int64(len(keys)))
	defer rec.Release()
	return array.NewTableFromRecords(tbl.Schema(), []arrow.RecordBatch{rec}), nil
}
