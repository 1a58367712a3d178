package parquetexporter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// pyarrowDumpScript prints every row of the given files as canonical JSON
// (sorted keys, timestamps as int64 microseconds, binary as hex, maps as
// objects, lists and structs recursively), then "DATASET_ROWS n" from
// reading the archive root as a Hive-partitioned dataset, the way
// Athena/Spark/DuckDB users read it.
const pyarrowDumpScript = `
import datetime, json, sys
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.dataset as ds
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def norm(v, t):
    if v is None:
        return None
    if pa.types.is_timestamp(t):
        assert str(t.tz) == "UTC" and t.unit == "us", t
        return (v - EPOCH) // datetime.timedelta(microseconds=1)
    if pa.types.is_map(t):
        return {k: norm(x, t.item_type) for k, x in v}
    if pa.types.is_list(t):
        return [norm(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {f.name: norm(v[f.name], f.type) for f in t}
    if isinstance(v, bytes):
        return v.hex()
    return v
root, files = sys.argv[1], sys.argv[2:]
for path in files:
    t = pq.ParquetFile(path).read()
    cols = [(name, t.schema.field(name).type, t.column(name).to_pylist()) for name in t.column_names]
    for i in range(t.num_rows):
        r = {name: norm(vals[i], typ) for name, typ, vals in cols}
        print(json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")))
print("DATASET_ROWS", ds.dataset(root, format="parquet", partitioning="hive").count_rows())
`

// pythonOrSkip returns a python with pyarrow, skipping locally (failing
// under CI=true) when it cannot be provided.
func pythonOrSkip(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	py, err := validate.PythonWithPyArrow(ctx)
	if err != nil {
		var missing *backend.MissingError
		if backend.InCI() && !errors.As(err, &missing) {
			t.Fatalf("pyarrow reader unavailable under CI: %v", err)
		}
		if backend.InCI() {
			t.Fatalf("pyarrow reader prerequisites missing under CI: %v", err)
		}
		t.Skipf("independent reader unavailable (python3/pip with network needed): %v", err)
	}
	return py
}

func TestIndependentReaderPyArrow(t *testing.T) {
	pushAndReadWithPyArrow(t, genLogs(600, 0, "checkout", "paiement-€", ""), 3)
}

// pushAndReadWithPyArrow archives ld, reads the files back with pyarrow and compares
// the rows with ld's; it returns the archive's root.
func pushAndReadWithPyArrow(t *testing.T, ld plog.Logs, wantFiles int) string {
	t.Helper()
	if testing.Short() {
		t.Skip("short mode")
	}
	py := pythonOrSkip(t)
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	want := canonicalRows(t, ld)
	require.NoError(t, e.pushLogs(context.Background(), ld))
	require.NoError(t, e.shutdown(context.Background()))
	assertPyArrowReads(t, py, cfg.Storage.Local.Path, wantFiles, want)
	return cfg.Storage.Local.Path
}

// TestIndependentReaderPyArrowTraces reads span files, including the
// events/links LIST<STRUCT<…, MAP>> columns, with pyarrow.
func TestIndependentReaderPyArrowTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	py := pythonOrSkip(t)
	cfg := testTracesConfig(t)
	e := newTestTracesExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	td := genTraces(600, 0, "checkout", "paiement-€", "")
	want := canonicalSpanRows(t, td)
	require.NoError(t, e.pushTraces(context.Background(), td))
	require.NoError(t, e.shutdown(context.Background()))
	assertPyArrowReads(t, py, cfg.Storage.Local.Path, 3, want)
}

// assertPyArrowReads reads every file under root with pyarrow and compares
// the rows with want (sorted canonical JSON) and the Hive dataset row count.
func assertPyArrowReads(t *testing.T, py, root string, wantFiles int, want []string) {
	t.Helper()
	files := archiveFiles(t, root)
	require.Len(t, files, wantFiles)
	cmd := exec.Command(py, append([]string{"-c", pyarrowDumpScript, root}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "pyarrow: %s", stderr.String())

	var got []string
	datasetRows := -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "DATASET_ROWS "); ok {
			datasetRows, err = strconv.Atoi(n)
			require.NoError(t, err)
			continue
		}
		got = append(got, canonicalJSON(t, jsonAny(t, line)))
	}
	require.NoError(t, sc.Err())
	sort.Strings(got)
	assert.Equal(t, len(want), datasetRows, "hive dataset row count")
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d differs between the input and pyarrow's reading", i)
	}
}

// Invalid UTF-8 reaches the exporter from OTLP and Kafka unchanged. Parquet strings must
// be UTF-8: pyarrow refuses to read a file holding an invalid one, and an invalid
// service.name would make an invalid partition path (and S3 key). Every invalid byte is
// stored as U+FFFD, as the OpenSearch exporter's JSON (and encoding/json) does.
func TestInvalidUTF8IsStoredReadable(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "paiement-\xc3")
	rl.Resource().Attributes().PutStr("k8s.pod.name\xff", "pod-\xfe")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope-\xff")
	for i, body := range []string{"\xff\xfeabc", "ok", "tail \xe2\x82"} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(time.Duration(i) * time.Second)))
		lr.SetSeverityText("WARN\xff")
		lr.Body().SetStr(body)
		lr.Attributes().PutStr("user\xc0", "value-\x80")
		lr.Attributes().PutEmptyMap("nested").PutStr("in\xff", "v\xff")
	}
	root := pushAndReadWithPyArrow(t, ld, 1)
	for _, f := range archiveFiles(t, root) {
		assert.True(t, utf8.ValidString(f), "file path %q", f)
	}
}
