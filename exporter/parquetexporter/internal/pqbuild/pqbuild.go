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
	// from dictionaries built per row group (mapdict.go); false writes them
	// PLAIN.
	MapDictionary bool
	// DictionaryPageSizeLimit caps every column's dictionary page (bytes);
	// 0 means arrow-go's default (1 MiB). A map leaf whose dictionary
	// would exceed it in a row group is written PLAIN.
	DictionaryPageSizeLimit int64

	// denseOnly hands every column to arrow-go dense, as before
	// stringdict.go: the reference the tests compare with.
	denseOnly bool
}

func (o Options) dictionaryPageSizeLimit() int64 {
	if o.DictionaryPageSizeLimit > 0 {
		return o.DictionaryPageSizeLimit
	}
	return parquet.DefaultDictionaryPageSizeLimit
}

// noCloseWriter hides the sink's Close from pqarrow, whose Close would
// otherwise close it before the caller can fsync.
type noCloseWriter struct{ w io.Writer }

func (n noCloseWriter) Write(p []byte) (int, error) { return n.w.Write(p) }

// columnProfile is a signal's per-column encoding choices.
type columnProfile struct {
	timeCol     string   // sort key after service_name
	noStats     []string // columns without min/max statistics
	noDict      []string // (nearly) unique columns: dictionaries only cost
	mapLeafs    []string // attribute map leaves (dictionary only with MapDictionary)
	delta       []string // sorted or near-sorted times: DELTA_BINARY_PACKED
	deltaLength []string // strings in noDict: DELTA_LENGTH_BYTE_ARRAY
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
	noStats:     []string{logarchive.ColBody},
	noDict:      []string{logarchive.ColBody, logarchive.ColTraceID, logarchive.ColSpanID, logarchive.ColTimeUnixNano, logarchive.ColObservedTimeUnixNano, logarchive.ColTimestamp, logarchive.ColObservedTimestamp},
	mapLeafs:    mapLeaves(logarchive.ColAttributes, logarchive.ColResourceAttributes),
	delta:       []string{logarchive.ColTimestamp, logarchive.ColTimeUnixNano, logarchive.ColObservedTimestamp, logarchive.ColObservedTimeUnixNano},
	deltaLength: []string{logarchive.ColBody},
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
//
// plain lists the string leaves found not worth a dictionary (stringdict.go,
// gather.go): they get none, so arrow-go does not hash their values into
// one of its own.
func writerProperties(schema *arrow.Schema, o Options, traceIDs int64, plain []string) *parquet.WriterProperties {
	prof := profileFor(schema)
	props := []parquet.WriterProperty{
		parquet.WithAllocator(memory.DefaultAllocator),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithMaxRowGroupLength(o.RowGroupRows),
		parquet.WithDataPageSize(o.DataPageSize),
		parquet.WithDataPageVersion(parquet.DataPageV1), // widest reader support
		parquet.WithStats(true),
		parquet.WithDictionaryPageSizeLimit(o.dictionaryPageSizeLimit()),
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
		for _, c := range prof.mapLeafs {
			props = append(props, parquet.WithDictionaryFor(c, false))
		}
	}
	for _, c := range plain {
		props = append(props, parquet.WithDictionaryFor(c, false),
			parquet.WithEncodingFor(c, parquet.Encodings.DeltaLengthByteArray))
	}
	// Strings without a dictionary: lengths delta-encoded apart from the
	// bytes, which zstd then compresses better than PLAIN's interleaved
	// length prefixes.
	for _, c := range prof.deltaLength {
		props = append(props, parquet.WithEncodingFor(c, parquet.Encodings.DeltaLengthByteArray))
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
	prof := profileFor(schema)
	order, err := sortOrder(tbl, prof.timeCol)
	if err != nil {
		return Result{}, err
	}
	eligible := func(path string) bool {
		if slices.Contains(prof.noDict, path) {
			return false
		}
		return o.MapDictionary || !slices.Contains(prof.mapLeafs, path)
	}
	limit := int(o.dictionaryPageSizeLimit())
	gathered := &gathering{}
	if order != nil && !o.denseOnly {
		if gathered, err = gatherColumns(tbl, order, o.RowGroupRows, limit, eligible, mem); err != nil {
			return Result{}, fmt.Errorf("sort rows: %w", err)
		}
		defer gathered.release()
	}
	isGathered := func(col int) bool { return gathered.cols[col] != nil }
	sorted := tbl
	if order != nil {
		if sorted, err = takeRows(ctx, tbl, order, isGathered, mem); err != nil {
			return Result{}, err
		}
		defer sorted.Release()
	}

	var dicts *fileDicts
	if sorted.NumRows() > 0 && !o.denseOnly {
		notPlain := func(path string) bool { return eligible(path) && !slices.Contains(gathered.plain, path) }
		if dicts, err = buildDicts(sorted, o.RowGroupRows, limit, notPlain, isGathered, mem); err != nil {
			return Result{}, fmt.Errorf("dictionaries: %w", err)
		}
		defer dicts.release()
	}
	// The writer gets the dense schema, which is what the file's stored
	// Arrow schema says; string leaves are handed over dictionary-encoded
	// (stringdict.go, gather.go), which does not change the Parquet column
	// types.
	var plain []string
	if dicts != nil {
		plain = append(dicts.plainLeaves(), gathered.plain...)
	}
	fw, err := pqarrow.NewFileWriter(schema, noCloseWriter{w}, writerProperties(schema, o, countValid(sorted, logarchive.ColTraceID), plain),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(memory.DefaultAllocator)))
	if err != nil {
		return Result{}, fmt.Errorf("new parquet writer: %w", err)
	}
	if err := writeRowGroups(fw, sorted, o, dicts, gathered.cols); err != nil {
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

// writeRowGroups writes tbl in row groups of o.RowGroupRows rows, handing
// string leaves over dictionary-encoded as dicts says and the gathered
// columns as gathered (both nil: all dense).
func writeRowGroups(fw *pqarrow.FileWriter, tbl arrow.Table, o Options, dicts *fileDicts, gathered map[int]*gatheredCol) error {
	n := tbl.NumRows()
	if n == 0 || dicts == nil && len(gathered) == 0 {
		return fw.WriteTable(tbl, o.RowGroupRows)
	}
	for rg, off := 0, int64(0); off < n; rg, off = rg+1, off+o.RowGroupRows {
		size := min(o.RowGroupRows, n-off)
		if err := fw.NewRowGroupChecked(); err != nil {
			return err
		}
		for i := 0; i < int(tbl.NumCols()); i++ {
			if err := writeColumn(fw, tbl, i, rg, off, size, dicts, gathered); err != nil {
				return fmt.Errorf("column %s: %w", tbl.Schema().Field(i).Name, err)
			}
		}
	}
	return nil
}

// writeColumn writes rows [off, off+size) of column i, row group rg.
func writeColumn(fw *pqarrow.FileWriter, tbl arrow.Table, i, rg int, off, size int64, dicts *fileDicts, gathered map[int]*gatheredCol) error {
	if g := gathered[i]; g != nil {
		return fw.WriteColumnChunked(g.arrays[rg], 0, size)
	}
	col := tbl.Column(i).Data()
	if dicts != nil {
		if cd := dicts.cols[i]; cd != nil {
			enc, err := cd.encodeRowGroup(col, rg, off, size)
			if err != nil {
				return err
			}
			if enc != nil {
				defer enc.Release()
				return fw.WriteColumnChunked(enc, 0, size)
			}
		}
	}
	return fw.WriteColumnChunked(col, off, size)
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

// sortOrder returns the row order of tbl by (service_name nulls first,
// timeCol), stable, as global row numbers; nil when tbl is already in
// order.
func sortOrder(tbl arrow.Table, timeCol string) ([]int64, error) {
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
		return nil, nil
	}
	slices.SortFunc(keys, compareKeys)
	rows := make([]int64, len(keys))
	for i, k := range keys {
		rows[i] = k.row
	}
	return rows, nil
}

// takeRows returns tbl with its rows in order (global row numbers). Columns
// for which skip holds are left as they are: their sorted form is built
// elsewhere (gather.go) and this copy is never written.
func takeRows(ctx context.Context, tbl arrow.Table, order []int64, skip func(col int) bool, mem memory.Allocator) (arrow.Table, error) {
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(len(order))
	for _, r := range order {
		ib.UnsafeAppend(r)
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
		if skip(i) {
			// A placeholder of the right type and length, never written.
			cols = append(cols, array.MakeArrayOfNull(mem, tbl.Schema().Field(i).Type, len(order)))
			continue
		}
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
	rec := array.NewRecordBatch(tbl.Schema(), cols, int64(len(order)))
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
