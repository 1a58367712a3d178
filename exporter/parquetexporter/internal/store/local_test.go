package store

import (
	"context"
	"errors"
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

// Publishing under a key that holds a different file must fail and keep
// the file: two writers using one name must not overwrite each other.
func TestLocalPutNeverReplacesADifferentFile(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	key := "logs/dt=2026-01-01/w-1.parquet"
	first := filepath.Join(t.TempDir(), "first")
	second := filepath.Join(t.TempDir(), "second")
	if err := os.WriteFile(first, []byte("first writer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, []byte("second writer's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), key, first, 12); err != nil {
		t.Fatal(err)
	}
	err = l.Put(context.Background(), key, second, 20)
	if !errors.Is(err, ErrConflict) || !Permanent(err) {
		t.Fatalf("Put over a different file = %v, want ErrConflict", err)
	}
	got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
	if err != nil || string(got) != "first writer" {
		t.Fatalf("published file = %q, %v; the first writer's file must stay", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "logs", "dt=2026-01-01"))
	if len(entries) != 1 {
		t.Fatalf("entries = %v (no temporaries may remain)", entries)
	}
}

// A crash between linking the final name and removing the temporary leaves
// the temporary as a second link to the published file; the retry must not
// write through it.
func TestLocalPutAfterCrashLeftALinkedTemporary(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	key := "logs/dt=2026-01-01/w-1.parquet"
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("parquet bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), key, src, 13); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, filepath.FromSlash(key))
	tmp := filepath.Join(filepath.Dir(dst), ".w-1.parquet.tmp")
	if err := os.Link(dst, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dst); err != nil { // crash before the link: only the temporary exists
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), key, src, 13); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "parquet bytes" {
		t.Fatalf("published file = %q, %v", got, err)
	}
	if err := os.Link(dst, tmp); err != nil { // crash after the link
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), key, src, 13); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "parquet bytes" {
		t.Fatalf("published file = %q, %v", got, err)
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
