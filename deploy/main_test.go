package deploy

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mutateOnce replaces old with replacement in text, failing the test unless old occurs exactly once: a
// mutation that silently misses would make a "must be rejected" case pass for the wrong reason.
func mutateOnce(t *testing.T, what string, text []byte, old, replacement string) []byte {
	t.Helper()
	if n := bytes.Count(text, []byte(old)); n != 1 {
		t.Fatalf("%s holds %q %d times; the mutation must hit exactly once", what, old, n)
	}
	return bytes.Replace(text, []byte(old), []byte(replacement), 1)
}
