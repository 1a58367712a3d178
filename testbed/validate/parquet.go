package validate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sluicelogs/sluice/testbed/backend"
)

// PyArrowVersion is the independent Parquet reader (has cp311 manylinux wheels).
const PyArrowVersion = "26.0.1"

// DuckDBVersion is the DuckDB whose Parquet writer the archive is compared with.
const DuckDBVersion = "2.0.0"

// readParquetScript prints the id column of a Parquet dataset, one value per
// line, after a header line with the row count. It reads the dataset the way
// downstream users would (pyarrow.dataset with hive partitioning), so files
// our exporter writes must be readable by it.
const readParquetScript = `
import sys
import pyarrow.dataset as ds
root, column = sys.argv[1], sys.argv[2]
table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
print("rows", table.num_rows)
parts = column.split(".")
if column in table.column_names:
    values = table.column(column).to_pylist()
else:
    col = table.column(parts[0]).to_pylist()
    values = []
    for v in col:
        rest = parts[1:]
        while rest and isinstance(v, (dict, list)):
            if isinstance(v, list):  # map columns come back as [(key, value), ...]
                v = dict(v)
            key = ".".join(rest)
            if key in v:
                v, rest = v[key], []
                break
            v, rest = v.get(rest[0]), rest[1:]
        values.append(v if not rest else None)
out = sys.stdout
for v in values:
    out.write("" if v is None else str(v))
    out.write("\n")
`

// PythonWithPyArrow returns a python interpreter from a venv cached under
// testbed/.cache/pyvenv-pyarrow-<version> with pyarrow installed (created
// once, under a lock).
func PythonWithPyArrow(ctx context.Context) (string, error) {
	return pythonWith(ctx, "pyarrow", PyArrowVersion)
}

// PythonWithDuckDB returns a python interpreter from a cached venv with the
// duckdb package installed, for side-by-side comparisons with DuckDB's own
// Parquet writer.
func PythonWithDuckDB(ctx context.Context) (string, error) {
	return pythonWith(ctx, "duckdb", DuckDBVersion)
}

// pythonWith returns the interpreter of a venv cached under
// testbed/.cache/pyvenv-<pkg>-<version> holding the binary wheel of pkg.
func pythonWith(ctx context.Context, pkg, version string) (string, error) {
	cache, err := backend.CacheDir()
	if err != nil {
		return "", err
	}
	dir, err := backend.InstallOnce(cache, "pyvenv-"+pkg+"-"+version, func(staging string) error {
		python, err := exec.LookPath("python3")
		if err != nil {
			return &backend.MissingError{Backend: pkg, What: "python3 not found on PATH"}
		}
		if out, err := exec.CommandContext(ctx, python, "-m", "venv", staging).CombinedOutput(); err != nil {
			return fmt.Errorf("python3 -m venv: %w: %s", err, out)
		}
		pip := filepath.Join(staging, "bin", "pip")
		if out, err := exec.CommandContext(ctx, pip, "install", "--only-binary=:all:", pkg+"=="+version).CombinedOutput(); err != nil {
			return fmt.Errorf("pip install %s==%s: %w: %s", pkg, version, err, out)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// The venv was created in the staging dir; its scripts point there, so
	// run the interpreter binary directly with the final site-packages.
	return filepath.Join(dir, "bin", "python"), nil
}

// ReadParquet adds the values of column (a top-level column, or a dotted path
// into a struct/map column such as "attributes.sluice.test.id") of every row
// under root to into, reading with pyarrow. It returns the row count.
func ReadParquet(ctx context.Context, root, column string, into *Multiset) (int, error) {
	python, err := PythonWithPyArrow(ctx)
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, python, "-c", readParquetScript, root, column)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("pyarrow read %s: %w: %s", root, err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	if !sc.Scan() {
		return 0, errors.New("pyarrow reader printed nothing")
	}
	var rows int
	if _, err := fmt.Sscanf(sc.Text(), "rows %d", &rows); err != nil {
		return 0, fmt.Errorf("pyarrow reader header %q: %w", sc.Text(), err)
	}
	for sc.Scan() {
		if v := strings.TrimSpace(sc.Text()); v != "" {
			into.Add(v)
		}
	}
	return rows, sc.Err()
}
