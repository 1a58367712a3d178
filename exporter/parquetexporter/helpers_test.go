package parquetexporter

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// baseTime is the start of the hour the generated logs fall in.
var baseTime = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testConfig returns a config writing under t.TempDir with synchronous
// pushes (no queue) and the given promoted attributes.
func testConfig(t *testing.T) *Config {
	cfg := createDefaultConfig().(*Config)
	dir := t.TempDir()
	cfg.Storage.Local.Path = filepath.Join(dir, "archive")
	cfg.Staging.Directory = filepath.Join(dir, "staging")
	cfg.WriterID = "test-writer"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.PromotedAttributes = []PromotedAttribute{
		{Key: "http.response.status_code", Type: "int"},
		{Key: "host.name", Source: "resource", Column: "host"},
		{Key: "duration_s", Type: "double"},
		{Key: "cache.hit", Type: "bool"},
	}
	return cfg
}

// genLogs builds n records spread over services, with maps, nulls,
// non-ASCII text and non-string bodies; record i has attribute "seq" = i+offset.
func genLogs(n, offset int, services ...string) plog.Logs {
	ld := plog.NewLogs()
	if len(services) == 0 {
		services = []string{"checkout"}
	}
	per := (n + len(services) - 1) / len(services)
	i := 0
	for s, svc := range services {
		rl := ld.ResourceLogs().AppendEmpty()
		fillTestResource(rl.Resource(), svc, s)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("app.logger")
		sl.Scope().SetVersion("1.2.3")
		for j := 0; j < per && i < n; j++ {
			k := i + offset
			lr := sl.LogRecords().AppendEmpty()
			// Deliberately out of time order so the writer must sort.
			lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Duration((k*7919)%3_000_000) * time.Millisecond).Add(123 * time.Nanosecond)))
			if k%5 != 0 {
				lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Hour + time.Duration(k)*time.Microsecond)))
			}
			lr.SetSeverityNumber(plog.SeverityNumber(9 + k%3*4))
			if k%7 != 0 {
				lr.SetSeverityText([]string{"INFO", "WARN", "ERROR"}[k%3])
			}
			switch k % 6 {
			case 0:
				lr.Body().SetEmptyMap().PutStr("msg", "structured ü")
			case 1:
				// empty body → null
			default:
				lr.Body().SetStr(fmt.Sprintf("GET /api/items/%d → 200 OK 日本語 %d", k%50, k))
			}
			if k%3 != 0 {
				var tid [16]byte
				var sid [8]byte
				for b := range tid {
					tid[b] = byte(k>>(b%4*8)) ^ byte(b*31+1)
				}
				for b := range sid {
					sid[b] = byte(k>>(b%4*8)) ^ byte(b*17+3)
				}
				lr.SetTraceID(tid)
				lr.SetSpanID(sid)
				lr.SetFlags(1)
			}
			if k%4 == 0 {
				lr.SetEventName("http.request")
			}
			attrs := lr.Attributes()
			attrs.PutInt("seq", int64(k))
			attrs.PutStr("http.method", "GET")
			if k%2 == 0 {
				attrs.PutInt("http.response.status_code", int64(200+k%5))
			} else if k%11 == 0 {
				attrs.PutStr("http.response.status_code", "teapot") // wrong type: stays in the map
			}
			if k%3 == 1 {
				attrs.PutDouble("duration_s", 0.5)
				attrs.PutBool("cache.hit", k%2 == 0)
				attrs.PutEmptySlice("tags").AppendEmpty().SetStr("a")
			}
			i++
		}
	}
	return ld
}

// fillTestResource sets the generated resource of service svc (none when
// empty), the s-th of a request.
func fillTestResource(r pcommon.Resource, svc string, s int) {
	if svc != "" {
		r.Attributes().PutStr("service.name", svc)
	}
	r.Attributes().PutStr("host.name", fmt.Sprintf("host-%d", s))
	r.Attributes().PutStr("deployment.environment", "prod")
}

// appendTornFrame appends half a frame to a journal, like an append torn
// by a crash (never acknowledged).
func appendTornFrame(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{0xff, 0x00, 0x10, 0x00, 1, 2, 3})
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// canonicalRows renders the rows an exporter should write for ld, in the
// same canonical JSON as readRowsGo/readRowsPy.
func canonicalRows(t *testing.T, ld plog.Logs) []string {
	t.Helper()
	var out []string
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := map[string]any{}
		var svc any
		var host any
		rl.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
			switch k {
			case "service.name":
				svc = v.Str()
			case "host.name":
				host = v.Str()
			default:
				res[k] = v.AsString()
			}
			return true
		})
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				r := map[string]any{
					"timestamp": int64(lr.Timestamp()) / 1000, "time_unix_nano": int64(lr.Timestamp()),
					"observed_timestamp": nil, "observed_time_unix_nano": nil,
					"severity_number": int64(lr.SeverityNumber()), "severity_text": nilIfEmpty(lr.SeverityText()),
					"body": nil, "trace_id": nil, "span_id": nil, "flags": int64(lr.Flags()),
					"event_name": nilIfEmpty(lr.EventName()), "service_name": svc,
					"scope_name": nilIfEmpty(sl.Scope().Name()), "scope_version": nilIfEmpty(sl.Scope().Version()),
					"host": host, "http_response_status_code": nil, "duration_s": nil, "cache_hit": nil,
					"resource_attributes": res,
				}
				if o := lr.ObservedTimestamp(); o != 0 {
					r["observed_timestamp"] = int64(o) / 1000
					r["observed_time_unix_nano"] = int64(o)
				}
				switch lr.Body().Type() {
				case pcommon.ValueTypeEmpty:
				case pcommon.ValueTypeStr:
					r["body"] = lr.Body().Str()
				default:
					r["body"] = lr.Body().AsString()
				}
				if id := lr.TraceID(); !id.IsEmpty() {
					r["trace_id"] = hex.EncodeToString(id[:])
				}
				if id := lr.SpanID(); !id.IsEmpty() {
					r["span_id"] = hex.EncodeToString(id[:])
				}
				attrs := map[string]any{}
				lr.Attributes().Range(func(k string, v pcommon.Value) bool {
					switch {
					case k == "http.response.status_code" && v.Type() == pcommon.ValueTypeInt:
						r["http_response_status_code"] = v.Int()
					case k == "duration_s" && v.Type() == pcommon.ValueTypeDouble:
						r["duration_s"] = v.Double()
					case k == "cache.hit" && v.Type() == pcommon.ValueTypeBool:
						r["cache_hit"] = v.Bool()
					default:
						attrs[k] = v.AsString()
					}
					return true
				})
				r["attributes"] = attrs
				out = append(out, canonicalJSON(t, r))
			}
		}
	}
	sort.Strings(out)
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func canonicalJSON(t *testing.T, v any) string {
	// Round-trip through json so numbers have one representation.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	var generic any
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&generic))
	buf.Reset()
	require.NoError(t, enc.Encode(generic))
	return strings.TrimSpace(buf.String())
}

// archiveFiles lists the published Parquet files under root, failing on
// leftover temporaries.
func archiveFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		require.False(t, logarchive.IsTemporary(path), "temporary file left in archive: %s", path)
		files = append(files, path)
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	sort.Strings(files)
	return files
}

// readRowsGo reads a Parquet file with arrow-go and renders canonical rows.
func readRowsGo(t *testing.T, path string) []string {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	require.NoError(t, err)
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	var out []string
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			r := map[string]any{}
			for c := 0; c < int(rec.NumCols()); c++ {
				r[rec.Schema().Field(c).Name] = cellValue(rec.Column(c), i)
			}
			out = append(out, canonicalJSON(t, r))
		}
	}
	return out
}

func cellValue(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.FixedSizeBinary:
		return hex.EncodeToString(a.Value(i))
	case *array.Map:
		m := map[string]any{}
		start, end := a.ValueOffsets(i)
		keys := a.Keys().(*array.String)
		items := a.Items().(*array.String)
		for j := start; j < end; j++ {
			m[keys.Value(int(j))] = items.Value(int(j))
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		l := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			l = append(l, cellValue(a.ListValues(), int(j)))
		}
		return l
	case *array.Struct:
		m := map[string]any{}
		st := a.DataType().(*arrow.StructType)
		for f := 0; f < a.NumField(); f++ {
			m[st.Field(f).Name] = cellValue(a.Field(f), i)
		}
		return m
	default:
		return fmt.Sprintf("unsupported %T", col)
	}
}

// readArchiveGo reads every published file under root.
func readArchiveGo(t *testing.T, root string) []string {
	var rows []string
	for _, f := range archiveFiles(t, root) {
		rows = append(rows, readRowsGo(t, f)...)
	}
	sort.Strings(rows)
	return rows
}

func newTestExporter(t *testing.T, cfg *Config, now func() time.Time) *parquetExporter {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	// The default instance, whose file names are <writer_id>-<seq>.parquet.
	set.ID = component.NewID(metadata.Type)
	e, err := newExporter(cfg, set, logarchive.SignalLogs, now)
	require.NoError(t, err)
	return e
}

// jsonAny decodes one JSON document (numbers kept exact).
func jsonAny(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func configOpaque(s string) configopaque.String { return configopaque.String(s) }

func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
