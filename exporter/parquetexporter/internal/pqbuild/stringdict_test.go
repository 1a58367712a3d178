package pqbuild

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// mapShape says what the attribute maps of generated rows hold.
type mapShape int

const (
	mixedMaps  mapShape = iota // null (stored empty: the column is required), empty and filled maps; null items; unique ids among low-cardinality values
	uniqueMaps                 // every value distinct
	noEntries                  // every map null or empty
)

// dictTestRecords builds nRecs log batches of rows rows each, by hand so
// that maps can be null and items null. Times are shuffled unless sorted,
// which forces the sort to gather or take rows; sorted input is written as
// sliced chunks instead.
func dictTestRecords(t *testing.T, mem memory.Allocator, nRecs, rows int, sorted bool, shape mapShape) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	schema, err := logarchive.LogSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	col := func(rb *array.RecordBuilder, name string) array.Builder {
		return rb.Field(schema.FieldIndices(name)[0])
	}
	methods := []string{"GET", "POST", "DELETE"}
	var recs []arrow.RecordBatch
	for r := 0; r < nRecs; r++ {
		rb := array.NewRecordBuilder(mem, schema)
		for i := 0; i < rows; i++ {
			row := r*rows + i
			sec := row
			if !sorted {
				sec = row * 7919 % (nRecs*rows + 1) // a shuffle (7919 is prime)
			}
			ts := base.Add(time.Duration(sec) * time.Second)
			for f := 0; f < len(schema.Fields()); f++ {
				switch name := schema.Field(f).Name; name {
				case logarchive.ColTimestamp:
					rb.Field(f).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
				case logarchive.ColSeverityNumber:
					rb.Field(f).(*array.Int32Builder).Append(int32(row % 4))
				case logarchive.ColFlags:
					rb.Field(f).(*array.Int64Builder).Append(0)
				case logarchive.ColServiceName:
					rb.Field(f).(*array.StringBuilder).Append("svc-ü")
				case logarchive.ColSeverityText:
					if row%5 == 0 {
						rb.Field(f).AppendNull()
					} else {
						rb.Field(f).(*array.StringBuilder).Append([]string{"INFO", "WARN", "ERROR"}[row%3])
					}
				case logarchive.ColBody:
					rb.Field(f).(*array.StringBuilder).Append(fmt.Sprintf("body %d – ok", row))
				case logarchive.ColAttributes, logarchive.ColResourceAttributes:
				default:
					rb.Field(f).AppendNull()
				}
			}
			attrs := col(rb, logarchive.ColAttributes).(*array.MapBuilder)
			keys := attrs.KeyBuilder().(*array.StringBuilder)
			items := attrs.ItemBuilder().(*array.StringBuilder)
			switch {
			case shape == noEntries && row%2 == 0, shape == mixedMaps && row%10 == 0:
				attrs.AppendNull()
			case shape == noEntries, shape == mixedMaps && row%10 == 1:
				attrs.Append(true)
			case shape == uniqueMaps:
				attrs.Append(true)
				keys.Append(fmt.Sprintf("k%d", row))
				items.Append(fmt.Sprintf("unique value %d ✓", row))
			default:
				attrs.Append(true)
				keys.Append("http.request.method")
				items.Append(methods[row%3])
				keys.Append("request.id")
				items.Append(fmt.Sprintf("req-%08d", row))
				keys.Append("session.id")
				items.Append(fmt.Sprintf("sess-%08d", row))
				keys.Append("note")
				if row%7 == 0 {
					items.AppendNull()
				} else {
					items.Append("naïve")
				}
			}
			res := col(rb, logarchive.ColResourceAttributes).(*array.MapBuilder)
			if shape == noEntries {
				res.Append(true)
				continue
			}
			res.Append(true)
			res.KeyBuilder().(*array.StringBuilder).Append("host.name")
			res.ItemBuilder().(*array.StringBuilder).Append(fmt.Sprintf("node-%d", row%4))
			res.KeyBuilder().(*array.StringBuilder).Append("zone")
			res.ItemBuilder().(*array.StringBuilder).Append("eu-1")
			res.KeyBuilder().(*array.StringBuilder).Append("rack")
			if row%3 == 0 {
				res.ItemBuilder().AppendNull()
			} else {
				res.ItemBuilder().(*array.StringBuilder).Append("r1")
			}
		}
		recs = append(recs, rb.NewRecordBatch())
		rb.Release()
	}
	return schema, recs
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// writeFile writes recs with o and returns the file bytes.
func writeFile(t *testing.T, schema *arrow.Schema, recs []arrow.RecordBatch, o Options, mem memory.Allocator) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, schema, recs, o, mem); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBack reads a file with pqarrow (stored Arrow schema applied).
func readBack(t *testing.T, data []byte) (arrow.Table, *file.Reader) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl, rdr
}

// assertSameContent checks two files hold equal tables under equal
// schemas, including the stored Arrow schema readers see. want is written
// with denseOptions.
func assertSameContent(t *testing.T, got, want []byte) {
	t.Helper()
	gt, gr := readBack(t, got)
	defer gt.Release()
	defer gr.Close()
	wt, wr := readBack(t, want)
	defer wt.Release()
	defer wr.Close()
	if !gt.Schema().Equal(wt.Schema()) {
		t.Fatalf("schema read back:\n%s\nwant\n%s", gt.Schema(), wt.Schema())
	}
	if gs, ws := gr.MetaData().KeyValueMetadata().FindValue("ARROW:schema"), wr.MetaData().KeyValueMetadata().FindValue("ARROW:schema"); gs == nil || ws == nil || *gs != *ws {
		t.Fatal("stored ARROW:schema differs from the dense write's")
	}
	if gt.NumRows() != wt.NumRows() {
		t.Fatalf("rows = %d, want %d", gt.NumRows(), wt.NumRows())
	}
	for i := 0; i < int(gt.NumCols()); i++ {
		if !array.ChunkedEqual(gt.Column(i).Data(), wt.Column(i).Data()) {
			t.Fatalf("column %s differs from the dense write", gt.Schema().Field(i).Name)
		}
	}
}

// leafEncoding reports, for leaf path in every row group of a file,
// whether it has a dictionary page and its encodings.
func leafEncoding(t *testing.T, data []byte, path string) (dict []bool, encodings [][]parquet.Encoding) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	md := rdr.MetaData()
	idx := md.Schema.ColumnIndexByName(path)
	if idx < 0 {
		t.Fatalf("no column %s", path)
	}
	for rg := 0; rg < md.NumRowGroups(); rg++ {
		cc, err := md.RowGroup(rg).ColumnChunk(idx)
		if err != nil {
			t.Fatal(err)
		}
		dict = append(dict, cc.HasDictionaryPage())
		encodings = append(encodings, cc.Encodings())
	}
	return dict, encodings
}

func allTrue(bs []bool) bool  { return !slices.Contains(bs, false) }
func allFalse(bs []bool) bool { return !slices.Contains(bs, true) }

var dictTestOptions = Options{CompressionLevel: 3, RowGroupRows: 1000, DataPageSize: 8 << 10, PageIndex: true, MapDictionary: true}

// denseOptions is o writing every column the way arrow-go does unaided
// (maps PLAIN, other strings through its own dictionary encoder).
func denseOptions(o Options) Options {
	o.MapDictionary = false
	o.denseOnly = true
	return o
}

// TestStringDictionariesRoundTrip writes maps (null, empty, null items,
// non-ASCII) and top-level strings through the built dictionaries, over
// several input chunks cut by row groups, and checks every value reads back
// as from the dense (PLAIN maps) write, with the stored schema unchanged,
// dictionary pages on the low-cardinality leaves and none on the leaf
// mixing in unique ids.
func TestStringDictionariesRoundTrip(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			schema, recs := dictTestRecords(t, mem, 3, 1500, sorted, mixedMaps)
			// An empty batch among them (a chunk of no rows).
			_, empty := dictTestRecords(t, mem, 1, 0, sorted, mixedMaps)
			recs = slices.Insert(recs, 1, empty[0])
			got := writeFile(t, schema, recs, dictTestOptions, mem)
			want := writeFile(t, schema, recs, denseOptions(dictTestOptions), mem)
			off := dictTestOptions
			off.MapDictionary = false
			plainMaps := writeFile(t, schema, recs, off, mem)
			releaseAll(recs)
			mem.AssertSize(t, 0)

			assertSameContent(t, got, want)
			for _, leaf := range []string{"attributes.key_value.key", "resource_attributes.key_value.key", "resource_attributes.key_value.value", logarchive.ColSeverityText, logarchive.ColServiceName} {
				if dict, enc := leafEncoding(t, got, leaf); len(dict) != 5 || !allTrue(dict) {
					t.Errorf("%s: dictionary pages %v (encodings %v), want one in each of 5 row groups", leaf, dict, enc)
				}
			}
			// request.id and session.id are unique per row: an index of ~11
			// bits for every value of the leaf costs more than PLAIN's
			// repeats.
			dict, enc := leafEncoding(t, got, "attributes.key_value.value")
			if !allFalse(dict) || !slices.Contains(enc[0], parquet.Encodings.DeltaLengthByteArray) {
				t.Errorf("attributes values: dictionary pages %v, encodings %v; want none, DELTA_LENGTH_BYTE_ARRAY", dict, enc)
			}
			assertSameContent(t, plainMaps, want)
			if dict, _ := leafEncoding(t, plainMaps, "attributes.key_value.key"); !allFalse(dict) {
				t.Errorf("map_dictionary off: attributes keys have dictionary pages %v", dict)
			}
			if dict, _ := leafEncoding(t, plainMaps, logarchive.ColSeverityText); !allTrue(dict) {
				t.Errorf("map_dictionary off: severity_text dictionary pages %v, want one per row group", dict)
			}
		})
	}
}

// TestStringDictionaryFallbacks covers leaves that must not get a
// dictionary: all values distinct, a dictionary past the page size limit,
// and maps without any entry.
func TestStringDictionaryFallbacks(t *testing.T) {
	mem := memory.DefaultAllocator
	dense := denseOptions(dictTestOptions)

	t.Run("unique values", func(t *testing.T) {
		schema, recs := dictTestRecords(t, mem, 2, 1200, false, uniqueMaps)
		defer releaseAll(recs)
		got := writeFile(t, schema, recs, dictTestOptions, mem)
		assertSameContent(t, got, writeFile(t, schema, recs, dense, mem))
		for _, leaf := range []string{"attributes.key_value.key", "attributes.key_value.value"} {
			if dict, enc := leafEncoding(t, got, leaf); !allFalse(dict) {
				t.Errorf("%s: dictionary pages %v (encodings %v), want none", leaf, dict, enc)
			}
		}
	})
	t.Run("page size limit", func(t *testing.T) {
		schema, recs := dictTestRecords(t, mem, 2, 1200, true, mixedMaps)
		defer releaseAll(recs)
		// The resource values' dictionary (node-0..3, eu-1, r1) is 54 bytes.
		small := dictTestOptions
		small.DictionaryPageSizeLimit = 50
		got := writeFile(t, schema, recs, small, mem)
		assertSameContent(t, got, writeFile(t, schema, recs, dense, mem))
		if dict, enc := leafEncoding(t, got, "resource_attributes.key_value.value"); !allFalse(dict) {
			t.Errorf("resource values past the limit: dictionary pages %v (encodings %v), want none", dict, enc)
		}
		if dict, _ := leafEncoding(t, got, "resource_attributes.key_value.key"); !allTrue(dict) {
			t.Errorf("resource keys within the limit: dictionary pages %v", dict)
		}
	})
	t.Run("past the default limit", func(t *testing.T) {
		// 10k distinct 120-byte values, each repeated 15 times: worth a
		// dictionary by its repeats, but a 1.24 MB one.
		schema, err := logarchive.LogSchema(nil)
		if err != nil {
			t.Fatal(err)
		}
		rb := array.NewRecordBuilder(mem, schema)
		defer rb.Release()
		const rows = 150_000
		pad := strings.Repeat("p", 114)
		for f := 0; f < len(schema.Fields()); f++ {
			b := rb.Field(f)
			for i := 0; i < rows; i++ {
				switch bb := b.(type) {
				case *array.TimestampBuilder:
					bb.Append(arrow.Timestamp(i))
				case *array.Int32Builder:
					bb.Append(0)
				case *array.Int64Builder:
					bb.Append(0)
				case *array.MapBuilder:
					bb.Append(true)
					bb.KeyBuilder().(*array.StringBuilder).Append("k")
					bb.ItemBuilder().(*array.StringBuilder).Append(fmt.Sprintf("%s%06d", pad, i%10_000))
				default:
					b.AppendNull()
				}
			}
		}
		rec := rb.NewRecordBatch()
		defer rec.Release()
		o := dictTestOptions
		o.RowGroupRows = rows
		got := writeFile(t, schema, []arrow.RecordBatch{rec}, o, mem)
		assertSameContent(t, got, writeFile(t, schema, []arrow.RecordBatch{rec}, denseOptions(o), mem))
		if dict, enc := leafEncoding(t, got, "attributes.key_value.value"); !allFalse(dict) {
			t.Errorf("1.24 MB dictionary: pages %v (encodings %v), want PLAIN", dict, enc)
		}
		if dict, _ := leafEncoding(t, got, "attributes.key_value.key"); !allTrue(dict) {
			t.Errorf("keys: dictionary pages %v, want one", dict)
		}
	})
	t.Run("no entries", func(t *testing.T) {
		schema, recs := dictTestRecords(t, mem, 2, 700, false, noEntries)
		defer releaseAll(recs)
		got := writeFile(t, schema, recs, dictTestOptions, mem)
		assertSameContent(t, got, writeFile(t, schema, recs, dense, mem))
	})
}

// TestSpanMapDictionaries checks span maps nested in the events and links
// lists get dictionaries and read back as from the dense write.
func TestSpanMapDictionaries(t *testing.T) {
	mem := memory.DefaultAllocator
	schema, rec := encodeSpans(t, mem, 1500, func(sp ptrace.Span, i int, _ time.Time) {
		sp.SetName([]string{"GET /a", "POST /b"}[i%2])
		sp.Attributes().PutStr("http.request.method", []string{"GET", "POST"}[i%2])
		for e := 0; e < i%3; e++ {
			ev := sp.Events().AppendEmpty()
			ev.SetName("retry")
			ev.Attributes().PutStr("exception.type", []string{"Timeout", "Refused"}[e%2])
		}
		if i%4 == 0 {
			l := sp.Links().AppendEmpty()
			l.Attributes().PutStr("link.kind", "follows ✓")
		}
	})
	defer rec.Release()
	recs := []arrow.RecordBatch{rec}
	got := writeFile(t, schema, recs, dictTestOptions, mem)
	assertSameContent(t, got, writeFile(t, schema, recs, denseOptions(dictTestOptions), mem))
	for _, leaf := range []string{
		"attributes.key_value.value",
		"events.list.element.attributes.key_value.key", "events.list.element.attributes.key_value.value",
		"links.list.element.attributes.key_value.value", "events.list.element.name", logarchive.ColName,
	} {
		if dict, enc := leafEncoding(t, got, leaf); !allTrue(dict) {
			t.Errorf("%s: dictionary pages %v (encodings %v), want one per row group", leaf, dict, enc)
		}
	}
}
