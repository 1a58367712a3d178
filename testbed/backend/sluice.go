package backend

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvSluiceBinary names a built sluice binary for tests that run the
// distribution as a process; without it they build one.
const EnvSluiceBinary = "SLUICE_BIN"

// SluiceBinary returns $SLUICE_BIN, or builds ./cmd/sluice into a temporary
// directory (a link step when the build cache is warm, as after `make build`),
// so a test never runs a stale binary.
func SluiceBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvSluiceBinary); bin != "" {
		return bin
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sluice")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/sluice")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sluice: %v\n%s", err, b)
	}
	return out
}
