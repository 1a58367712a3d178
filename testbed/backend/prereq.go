package backend

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// MissingError reports a prerequisite that is not installed on this machine.
// The XxxFor helpers turn it into t.Skip (or a failure under CI=true).
type MissingError struct {
	Backend string // e.g. "opensearch"
	What    string // what is missing and how to get it
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s backend unavailable: %s", e.Backend, e.What)
}

// InCI reports whether CI=true, where missing prerequisites are failures.
func InCI() bool { return os.Getenv("CI") == "true" }

// needCommand returns the path of a command or a MissingError naming it.
func needCommand(backend, name, hint string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &MissingError{Backend: backend, What: fmt.Sprintf("command %q not found on PATH (%s)", name, hint)}
	}
	return p, nil
}

// skipOrFail ends the test for a start error: a missing prerequisite skips it
// locally, everything else (and anything under CI=true) fails it.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	var missing *MissingError
	if errors.As(err, &missing) && !InCI() {
		t.Skipf("skipping: %v (set CI=true to make this a failure)", err)
	}
	t.Fatalf("start backend: %v", err)
}
