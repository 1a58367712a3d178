// Package pqbuild writes staged Arrow batches as one Parquet file, sorted by
// (service_name, time) — timestamp for logs, start_time for spans — with the
// archive's encoding choices for the schema's signal.
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

// columnProfile is a signal's per-column encoding choices.
type columnProfile struct {
	timeCol  string   // sort key after service_name
	noStats  []string // columns without min/max statistics
	noDict   []string // (nearly) unique columns: dictionaries only cost
	mapLeafs []string // attribute map leaves (dictionary only with MapDictionary)
	delta    []string // sorted or near-sorted times: DELTA_BINARY_PACKED
}

// mapLeaves returns the key and value leaf paths of the map columns at paths.
func mapLeaves(paths ...string) []string {
	out := make([]string, 0, 2*len(paths))
	for _, p := range paths {
		out = append(out, p+".key_value.key", p+".key_value.value")
	}
	return out
}

var logProfile = columnProfile{
	timeCol: logarchive.ColTimestamp,
	// Bodies are long and rarely range-filtered: their min/max would only
	// bloat the footer.
	noStats:  []string{logarchive.ColBody},
	noDict:   []string{logarchive.ColBody, logarchive.ColTraceID, logarchive.ColSpanID, logarchive.ColTimeUnixNano, logarchive.ColObservedTimeUnixNano, logarchive.ColTimestamp, logarchive.ColObservedTimestamp},
	mapLeafs: mapLeaves(logarchive.ColAttributes, logarchive.ColResourceAttributes),
	delta:    []string{logarchive.ColTimestamp, logarchive.ColTimeUnixNano, logarchive.ColObservedTimestamp, logarchive.ColObservedTimeUnixNano},
}

var spanProfile = columnProfile{
	timeCol: logarchive.ColStartTime,
	noDict: []string{
		logarchive.ColTraceID, logarchive.ColSpanID, logarchive.ColParentSpanID,
		logarchive.ColStartTime, logarchive.ColStartTimeUnixNano, logarchive.ColEndTime, logarchive.ColEndTimeUnixNano,
		logarchive.ColDurationNano,
		logarchive.ColEvents + ".list.element." + logarchive.FieldTime,
		logarchive.ColEvents + ".list.element." + logarchive.FieldTimeUnixNano,
		logarchive.ColLinks + ".list.element." + logarchive.FieldTraceID,
		logarchive.ColLinks + ".list.element." + logarchive.FieldSpanID,
	},
	mapLeafs: mapLeaves(logarchive.ColAttributes, logarchive.ColResourceAttributes,
		logarchive.ColEvents+".list.element."+logarchive.FieldAttributes,
		logarchive.ColLinks+".list.element."+logarchive.FieldAttributes),
	// Rows are sorted by start time, and end times follow start times closely.
	delta: []string{logarchive.ColStartTime, logarchive.ColStartTimeUnixNano, logarchive.ColEndTime, logarchive.ColEndTimeUnixNano},
}

// profileFor picks the column profile of schema's signal.
func profileFor(schema *arrow.Schema) columnProfile {
	if logarchive.SignalOfSchema(schema) == logarchive.SignalTraces {
		return spanProfile
	}
	return logProfile
}

// writerProperties builds the parquet properties for schema. The writer's
// own buffers (pages, dictionaries, statistics) come from the Go allocator:
// their lifetimes are arrow-go's business, not ours.
//
// traceIDs is the number of non-null trace ids in the file: no row group
// holds more distinct ones, so it caps the bloom filter's NDV. The filter
// is sized from NDV alone (a 100k NDV filter is 128 KiB per row group), so
// without the cap a small file would carry a filter many times its rows.
func writerProperties(schema *arrow.Schema, o Options, traceIDs int64) *parquet.WriterProperties {
	prof := profileFor(schema)
	props := []parquet.WriterProperty{
		parquet.WithAllocator(memory.DefaultAllocator),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithMaxRowGroupLength(o.RowGroupRows),
		parquet.WithDataPageSize(o.DataPageSize),
		parquet.WithDataPageVersion(parquet.DataPageV1), // widest reader support
		parquet.WithStats(true),
	}
	for _, c := range prof.noStats {
		props = append(props, parquet.WithStatsFor(c, false))
	}
	// A map leaf's min/max spans every key (or every key's value) of the
	// rows: no reader can prune on it, and computing it costs ~4 % of the
	// write. Promoted columns are the ones to filter on.
	for _, c := range prof.mapLeafs {
		props = append(props, parquet.WithStatsFor(c, false))
	}
	props = append(props, parquet.WithPageIndexEnabled(o.PageIndex))
	for _, c := range prof.noDict {
		props = append(props, parquet.WithDictionaryFor(c, false))
	}
	if !o.MapDictionary {
		// arrow-go's dictionary encoder allocates per value; on attribute
		// maps (~20 values per row) that halves throughput for ~8 % size.
		for _, c := range prof.mapLeafs {
			props = append(props, parquet.WithDictionaryFor(c, false))
		}
	}
	// Sorted times delta-encode to a few bits per row.
	for _, c := range prof.delta {
		props = append(props, parquet.WithEncodingFor(c, parquet.Encodings.DeltaBinaryPacked))
	}
	if o.BloomFilter {
		ndv := max(min(o.BloomFilterNDV, traceIDs, o.RowGroupRows), 1)
		props = append(props,
			parquet.WithBloomFilterEnabledFor(logarchive.ColTraceID, true),
			parquet.WithBloomFilterNDVFor(logarchive.ColTraceID, ndv),
			parquet.WithBloomFilterFPPFor(logarchive.ColTraceID, o.BloomFilterFPP),
		)
	}
	svc := schema.FieldIndices(logarchive.ColServiceName)
	ts := schema.FieldIndices(prof.timeCol)
	if len(svc) == 1 && len(ts) == 1 {
		// Both schemas put every nested column after the fixed ones, so
		// field index = leaf index for these two.
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

// Write sorts recs by (service_name, time column of the schema's signal)
// and writes them to w as one Parquet file. recs must all have schema; w is
// not closed. mem allocates the sorted copy of the rows, which is released
// before Write returns.
func Write(ctx context.Context, w io.Writer, schema *arrow.Schema, recs []arrow.RecordBatch, o Options, mem memory.Allocator) (Result, error) {
	if len(recs) == 0 {
		return Result{}, errors.New("no rows to write")
	}
	tbl := array.NewTableFromRecords(schema, recs)
	defer tbl.Release()
	sorted, err := sortTable(ctx, tbl, profileFor(schema).timeCol, mem)
	if err != nil {
		return Result{}, err
	}
	defer sorted.Release()

	fw, err := pqarrow.NewFileWriter(schema, noCloseWriter{w}, writerProperties(schema, o, countValid(sorted, logarchive.ColTraceID)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(memory.DefaultAllocator)))
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

// sortKey orders one row: service rank (-1 = null, first), time, then the
// row's input position, which makes every key distinct so an unstable sort
// gives the stable order.
type sortKey struct {
	rank int32
	ts   int64
	row  int64
}

func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return cmp.Compare(a.row, b.row)
}

// sortTable returns tbl ordered by (service_name nulls first, timeCol),
// stable; it returns tbl itself (retained) when already in order.
func sortTable(ctx context.Context, tbl arrow.Table, timeCol string, mem memory.Allocator) (arrow.Table, error) {
	svcIdx := tbl.Schema().FieldIndices(logarchive.ColServiceName)
	tsIdx := tbl.Schema().FieldIndices(timeCol)
	if len(svcIdx) != 1 || len(tsIdx) != 1 {
		return nil, fmt.Errorf("schema lacks %s or %s", logarchive.ColServiceName, timeCol)
	}
	keys := make([]sortKey, 0, tbl.NumRows())
	svcChunks := tbl.Column(svcIdx[0]).Data().Chunks()
	tsChunks := tbl.Column(tsIdx[0]).Data().Chunks()
	// Services are ranked in first-seen order here and by name below:
	// comparing small ints instead of strings, and a file usually holds a
	// single service.
	ranks := map[string]int32{}
	var names []string
	var row int64
	for c := range svcChunks {
		svc, ok1 := svcChunks[c].(*array.String)
		ts, ok2 := tsChunks[c].(*array.Timestamp)
		if !ok1 || !ok2 {
			return nil, errors.New("unexpected column types for sorting")
		}
		last, lastRank := "", int32(-1)
		for i := 0; i < svc.Len(); i++ {
			k := sortKey{rank: -1, ts: int64(ts.Value(i)), row: row}
			if svc.IsValid(i) {
				name := svc.Value(i)
				if lastRank < 0 || name != last {
					r, ok := ranks[name]
					if !ok {
						r = int32(len(names))
						ranks[name] = r
						names = append(names, name)
					}
					last, lastRank = name, r
				}
				k.rank = lastRank
			}
			keys = append(keys, k)
			row++
		}
	}
	if len(names) > 1 {
		byName := slices.Clone(names)
		slices.Sort(byName)
		order := make([]int32, len(names)) // first-seen rank → name rank
		for i, n := range byName {
			order[ranks[n]] = int32(i)
		}
		for i := range keys {
			if keys[i].rank >= 0 {
				keys[i].rank = order[keys[i].rank]
			}
		}
	}
	if slices.IsSortedFunc(keys, compareKeys) {
		tbl.Retain()
		return tbl, nil
	}
	slices.SortFunc(keys, compareKeys)
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

// countValid returns the number of non-null values of column name in tbl
// (0 when the column is absent).
func countValid(tbl arrow.Table, name string) int64 {
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return 0
	}
	col := tbl.Column(idx[0]).Data()
	return int64(col.Len() - col.NullN())
}
