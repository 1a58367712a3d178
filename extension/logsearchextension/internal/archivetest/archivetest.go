// Package archivetest writes Parquet log archives for tests and benchmarks,
// with the schema and layout of internal/logarchive and the writer settings
// the parquet exporter uses (zstd level 3, rows sorted by service and time,
// trace-id bloom filter, page index, no statistics on body, no dictionaries
// for unique values and maps, delta-encoded times).
package archivetest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Row is one log record to archive.
type Row struct {
	Time         time.Time
	Observed     time.Time
	Severity     int32
	SeverityText string
	Body         string
	TraceID      [16]byte
	SpanID       [8]byte
	Flags        int64
	EventName    string
	Service      string
	ScopeName    string
	// Promoted holds values of promoted columns by column name (string,
	// int64, float64 or bool); absent means null.
	Promoted   map[string]any
	Attributes map[string]string
	Resource   map[string]string
}

// Options are the file writer settings.
type Options struct {
	// Writer is the writer id in file names (default "test").
	Writer string
	// RowGroupRows caps rows per row group (default 128 Ki, as the exporter).
	RowGroupRows int64
	// Promoted are the promoted columns of the schema.
	Promoted []logarchive.PromotedColumn
	// NoBloom disables the trace-id bloom filter (to test files without one).
	NoBloom bool
}

func (o Options) withDefaults() Options {
	if o.Writer == "" {
		o.Writer = "test"
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = 128 * 1024
	}
	return o
}

// WriteArchive groups rows by partition and writes one file per partition
// under root; seq numbers start at firstSeq. It returns the relative paths.
func WriteArchive(root string, layout *logarchive.Layout, rows []Row, firstSeq uint64, o Options) ([]string, error) {
	groups := map[logarchive.Partition][]Row{}
	var order []logarchive.Partition
	for _, r := range rows {
		p := layout.PartitionFor(logarchive.SignalLogs, r.Service, r.Time)
		if _, ok := groups[p]; !ok {
			order = append(order, p)
		}
		groups[p] = append(groups[p], r)
	}
	sort.Slice(order, func(i, j int) bool {
		return layout.Path(order[i]) < layout.Path(order[j])
	})
	var paths []string
	for i, p := range order {
		rel, err := WriteFile(root, layout, p, firstSeq+uint64(i), groups[p], o)
		if err != nil {
			return nil, err
		}
		paths = append(paths, rel)
	}
	return paths, nil
}

// WriteFile writes rows (all of partition p) as one archive file, sorted by
// (service, time) like the exporter, and returns its relative path. The file
// is written under a temporary name and renamed, as the exporter does.
func WriteFile(root string, layout *logarchive.Layout, p logarchive.Partition, seq uint64, rows []Row, o Options) (string, error) {
	o = o.withDefaults()
	schema, err := logarchive.LogSchema(o.Promoted)
	if err != nil {
		return "", err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Service != rows[j].Service {
			return rows[i].Service < rows[j].Service
		}
		return rows[i].Time.Before(rows[j].Time)
	})
	rel := layout.FilePath(logarchive.ArchiveFile{Partition: p, Writer: o.Writer, Seq: seq})
	final := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	mem := memory.NewGoAllocator()
	fw, err := pqarrow.NewFileWriter(schema, f, writerProperties(schema, o), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return "", err
	}
	const batch = 64 * 1024
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		rec, err := buildRecord(schema, o.Promoted, rows[start:end], mem)
		if err != nil {
			fw.Close()
			return "", err
		}
		err = fw.WriteBuffered(rec)
		rec.Release()
		if err != nil {
			return "", fmt.Errorf("write %s: %w", rel, err)
		}
		if n, err := fw.RowGroupNumRows(); err == nil && n >= int(o.RowGroupRows) {
			fw.NewBufferedRowGroup()
		}
	}
	if err := fw.Close(); err != nil { // closes f
		return "", fmt.Errorf("close %s: %w", rel, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return rel, nil
}

func writerProperties(schema *arrow.Schema, o Options) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(3),
		parquet.WithMaxRowGroupLength(o.RowGroupRows),
		parquet.WithDataPageSize(256 << 10),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithStats(true),
		parquet.WithStatsFor(logarchive.ColBody, false),
		parquet.WithPageIndexEnabled(true),
	}
	// Same encodings as the exporter: no dictionaries for unique values
	// and maps, delta encoding for sorted times.
	for _, c := range []string{
		logarchive.ColBody, logarchive.ColTraceID, logarchive.ColSpanID, logarchive.ColTimeUnixNano,
		logarchive.ColObservedTimeUnixNano, logarchive.ColTimestamp, logarchive.ColObservedTimestamp,
		"attributes.key_value.key", "attributes.key_value.value",
		"resource_attributes.key_value.key", "resource_attributes.key_value.value",
	} {
		props = append(props, parquet.WithDictionaryFor(c, false))
	}
	for _, c := range []string{logarchive.ColTimestamp, logarchive.ColTimeUnixNano, logarchive.ColObservedTimestamp, logarchive.ColObservedTimeUnixNano} {
		props = append(props, parquet.WithEncodingFor(c, parquet.Encodings.DeltaBinaryPacked))
	}
	if !o.NoBloom {
		props = append(props,
			parquet.WithBloomFilterEnabledFor(logarchive.ColTraceID, true),
			parquet.WithBloomFilterNDVFor(logarchive.ColTraceID, 100_000),
			parquet.WithBloomFilterFPPFor(logarchive.ColTraceID, 0.01))
	}
	svc := schema.FieldIndices(logarchive.ColServiceName)[0]
	ts := schema.FieldIndices(logarchive.ColTimestamp)[0]
	props = append(props, parquet.WithSortingColumns([]parquet.SortingColumn{{ColumnIdx: int32(svc)}, {ColumnIdx: int32(ts)}}))
	return parquet.NewWriterProperties(props...)
}

func buildRecord(schema *arrow.Schema, promoted []logarchive.PromotedColumn, rows []Row, mem memory.Allocator) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	col := func(name string) array.Builder { return b.Field(schema.FieldIndices(name)[0]) }
	ts := col(logarchive.ColTimestamp).(*array.TimestampBuilder)
	tn := col(logarchive.ColTimeUnixNano).(*array.Int64Builder)
	ots := col(logarchive.ColObservedTimestamp).(*array.TimestampBuilder)
	otn := col(logarchive.ColObservedTimeUnixNano).(*array.Int64Builder)
	sev := col(logarchive.ColSeverityNumber).(*array.Int32Builder)
	sevText := col(logarchive.ColSeverityText).(*array.StringBuilder)
	body := col(logarchive.ColBody).(*array.StringBuilder)
	trace := col(logarchive.ColTraceID).(*array.FixedSizeBinaryBuilder)
	span := col(logarchive.ColSpanID).(*array.FixedSizeBinaryBuilder)
	flags := col(logarchive.ColFlags).(*array.Int64Builder)
	event := col(logarchive.ColEventName).(*array.StringBuilder)
	svc := col(logarchive.ColServiceName).(*array.StringBuilder)
	scope := col(logarchive.ColScopeName).(*array.StringBuilder)
	scopeVer := col(logarchive.ColScopeVersion).(*array.StringBuilder)
	attrs := col(logarchive.ColAttributes).(*array.MapBuilder)
	res := col(logarchive.ColResourceAttributes).(*array.MapBuilder)
	optString := func(sb *array.StringBuilder, v string) {
		if v == "" {
			sb.AppendNull()
		} else {
			sb.Append(v)
		}
	}
	appendMap := func(mb *array.MapBuilder, m map[string]string) {
		mb.Append(true)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kb := mb.KeyBuilder().(*array.StringBuilder)
		ib := mb.ItemBuilder().(*array.StringBuilder)
		for _, k := range keys {
			kb.Append(k)
			ib.Append(m[k])
		}
	}
	for _, r := range rows {
		ts.Append(arrow.Timestamp(r.Time.UnixMicro()))
		tn.Append(r.Time.UnixNano())
		if r.Observed.IsZero() {
			ots.AppendNull()
			otn.AppendNull()
		} else {
			ots.Append(arrow.Timestamp(r.Observed.UnixMicro()))
			otn.Append(r.Observed.UnixNano())
		}
		sev.Append(r.Severity)
		optString(sevText, r.SeverityText)
		optString(body, r.Body)
		if r.TraceID == ([16]byte{}) {
			trace.AppendNull()
		} else {
			trace.Append(r.TraceID[:])
		}
		if r.SpanID == ([8]byte{}) {
			span.AppendNull()
		} else {
			span.Append(r.SpanID[:])
		}
		flags.Append(r.Flags)
		optString(event, r.EventName)
		optString(svc, r.Service)
		optString(scope, r.ScopeName)
		scopeVer.AppendNull()
		for _, p := range promoted {
			pb := col(p.Column)
			v, ok := r.Promoted[p.Column]
			if !ok {
				pb.AppendNull()
				continue
			}
			switch pb := pb.(type) {
			case *array.StringBuilder:
				pb.Append(v.(string))
			case *array.Int64Builder:
				pb.Append(v.(int64))
			case *array.Float64Builder:
				pb.Append(v.(float64))
			case *array.BooleanBuilder:
				pb.Append(v.(bool))
			default:
				return nil, fmt.Errorf("promoted column %s: unsupported builder %T", p.Column, pb)
			}
		}
		appendMap(attrs, r.Attributes)
		appendMap(res, r.Resource)
	}
	return b.NewRecordBatch(), nil
}
