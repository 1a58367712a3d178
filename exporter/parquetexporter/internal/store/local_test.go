package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLocalPutIsAtomicAndIdempotent(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("parquet bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := l.Put(context.Background(), "logs/dt=2026-01-01/w-1.parquet", src, 13); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "logs", "dt=2026-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "w-1.parquet" {
		t.Fatalf("entries = %v (no temporaries may remain)", entries)
	}
	if err := l.Put(context.Background(), "../escape.parquet", src, 13); err == nil {
		t.Fatal("key escaping the root accepted")
	}
}

func TestDeleteBefore(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, signal := range []string{logarchive.SignalLogs, logarchive.SignalTraces} {
		for _, h := range []int{0, 1, 2} {
			dir := filepath.Join(root, layout.Path(layout.PartitionFor(signal, "api", base.Add(time.Duration(h)*time.Hour))))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Partitions ending at or before 02:00 go: hours 00 and 01, of the
	// given signal only.
	n, err := l.DeleteBefore(layout, logarchive.SignalLogs, base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(root, "logs/service=api/dt=2026-01-10/hour=02")); err != nil {
		t.Fatal("newest partition removed")
	}
	if _, err := os.Stat(filepath.Join(root, "traces/service=api/dt=2026-01-10/hour=00")); err != nil {
		t.Fatal("partition of another signal removed")
	}
	n, err = l.DeleteBefore(layout, logarchive.SignalTraces, base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("deleted %d traces partitions, %v", n, err)
	}
}
