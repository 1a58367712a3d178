package validate_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/validate"
)

func TestReadOpenSearchAccountsBulkDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OpenSearch")
	}
	os := backend.OpenSearchFor(t)
	ctx := context.Background()
	index := fmt.Sprintf("validate-%d", time.Now().UnixNano())
	sent, err := loadgen.SendBulk(ctx, loadgen.BulkConfig{URL: os.URL, Index: index, Docs: 2500, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := validate.NewMultiset(sent.Accepted.Prefix())
	without, err := validate.ReadOpenSearch(ctx, os.URL, index, validate.IDAttribute, got)
	if err != nil {
		t.Fatal(err)
	}
	if without != 0 {
		t.Fatalf("%d documents without %s", without, validate.IDAttribute)
	}
	if err := validate.Account(sent.Accepted, validate.Outcome{Delivered: got}).Err(false); err != nil {
		t.Fatal(err)
	}
	// A resent batch shows up as duplicates, not as success.
	dup, err := loadgen.SendBulk(ctx, loadgen.BulkConfig{URL: os.URL, Index: index, Docs: 3, RunID: sentRunID(sent.Accepted.Prefix())})
	if err != nil {
		t.Fatal(err)
	}
	again := validate.NewMultiset(sent.Accepted.Prefix())
	if _, err := validate.ReadOpenSearch(ctx, os.URL, index, validate.IDAttribute, again); err != nil {
		t.Fatal(err)
	}
	rep := validate.Account(sent.Accepted, validate.Outcome{Delivered: again})
	if rep.Duplicates != dup.Accepted.Total() || rep.Err(false) == nil {
		t.Fatalf("after resending %d docs: %s", dup.Accepted.Total(), rep)
	}
}

// sentRunID recovers the run id from a bulk multiset prefix ("<run>-b").
func sentRunID(prefix string) string { return prefix[:len(prefix)-2] }

func TestReadKafkaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka")
	}
	k := backend.KafkaFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("validate-%d", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sent := validate.NewMultiset("k-")
	var m plog.ProtoMarshaler
	for batch := range 5 {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := range 20 {
			id := sent.ID(uint64(batch*20 + i))
			lrs.AppendEmpty().Attributes().PutStr(validate.IDAttribute, id)
			sent.Add(id)
		}
		raw, err := m.MarshalLogs(ld)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: raw}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := validate.NewMultiset("k-")
	n, err := validate.ReadKafkaLogs(ctx, k.Brokers, topic, validate.KafkaOTLPProto, 3*time.Second, got)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("read %d messages, want 5", n)
	}
	if err := validate.Account(sent, validate.Outcome{Delivered: got}).Err(false); err != nil {
		t.Fatal(err)
	}
	if _, err := validate.ReadKafkaLogs(ctx, k.Brokers, topic, "avro", time.Second, got); err == nil {
		t.Fatal("unknown encoding accepted")
	}
}

func TestReadParquetWithPyArrow(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a Python venv with pyarrow")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		if backend.InCI() {
			t.Fatal("python3 missing")
		}
		t.Skip("python3 missing")
	}
	ctx := context.Background()
	python, err := validate.PythonWithPyArrow(ctx)
	if err != nil {
		if backend.InCI() {
			t.Fatal(err)
		}
		t.Skipf("pyarrow unavailable: %v", err)
	}
	root := t.TempDir()
	// Two hive partitions, a flat id column and a map column like an exporter's attributes.
	script := `
import sys, os, pyarrow as pa, pyarrow.parquet as pq
root = sys.argv[1]
for part, ids in (("day=1", ["p-0", "p-1", "p-2"]), ("day=2", ["p-3", "p-3"])):
    os.makedirs(os.path.join(root, part))
    attrs = pa.array([[("sluice.test.id", i), ("k", "v")] for i in ids], type=pa.map_(pa.string(), pa.string()))
    pq.write_table(pa.table({"id": ids, "attributes": attrs}), os.path.join(root, part, "part-0.parquet"))
open(os.path.join(root, ".inprogress.parquet.tmp"), "w").write("not parquet")
`
	if out, err := exec.CommandContext(ctx, python, "-c", script, root).CombinedOutput(); err != nil {
		t.Fatalf("write parquet: %v: %s", err, out)
	}
	sent := validate.NewMultiset("p-")
	sent.AddSeq(0, 4)
	for _, column := range []string{"id", "attributes.sluice.test.id"} {
		got := validate.NewMultiset("p-")
		rows, err := validate.ReadParquet(ctx, root, column, got)
		if err != nil {
			t.Fatal(err)
		}
		rep := validate.Account(sent, validate.Outcome{Delivered: got})
		if rows != 5 || rep.Duplicates != 1 || rep.Lost != 0 {
			t.Fatalf("column %s: rows %d, %s; want 5 rows, 1 duplicate, 0 lost", column, rows, rep)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "day=1", "broken.parquet"), []byte("PAR1garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := validate.ReadParquet(ctx, root, "id", validate.NewMultiset("p-")); err == nil {
		t.Fatal("a corrupt Parquet file was read without error")
	}
}
