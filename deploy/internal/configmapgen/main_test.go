package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/deploy/internal/configmap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGenerate runs the generator on a scratch repository and checks it writes Render's output for
// every spec, and fails on a missing config.
func TestGenerate(t *testing.T) {
	root := t.TempDir()
	for _, spec := range configmap.Specs {
		src := filepath.Join(root, filepath.FromSlash(spec.Source))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(src, []byte("# "+spec.Name+"\nreceivers: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(filepath.Dir(spec.Manifest))), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := generate(root); err != nil {
		t.Fatal(err)
	}
	for _, spec := range configmap.Specs {
		want, err := configmap.Render(spec, []byte("# "+spec.Name+"\nreceivers: {}\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(spec.Manifest)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", spec.Manifest, got, want)
		}
	}
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(configmap.Specs[0].Source))); err != nil {
		t.Fatal(err)
	}
	if err := generate(root); err == nil {
		t.Error("generate succeeded without its config")
	}
}
