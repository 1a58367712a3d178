package cputime

import (
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestProcessAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage here")
	}
	before := Process()
	x := 0
	for i := 0; i < 50_000_000 && Process() == before; i++ {
		x += i
	}
	if Process() <= before {
		t.Fatalf("CPU time did not advance after busy work (%d)", x)
	}
}
