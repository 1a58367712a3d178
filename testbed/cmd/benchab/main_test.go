package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sample = `goos: linux
BenchmarkBuffer-2          	  300000	       322.5 ns/op	       372.3 cpu-ns/span	      15 B/op	       0 allocs/op
BenchmarkDecideDropped-2   	  300000	       250.8 ns/op	       272.0 cpu-ns/group
BenchmarkDecideDropped-2 says something in a log line
--- BENCH: BenchmarkX
PASS
`

func TestParseReadsEveryMetric(t *testing.T) {
	ms := parse([]byte(sample))
	want := []measurement{
		{"BenchmarkBuffer-2", "ns/op", 322.5},
		{"BenchmarkBuffer-2", "cpu-ns/span", 372.3},
		{"BenchmarkBuffer-2", "B/op", 15},
		{"BenchmarkBuffer-2", "allocs/op", 0},
		{"BenchmarkDecideDropped-2", "ns/op", 250.8},
		{"BenchmarkDecideDropped-2", "cpu-ns/group", 272},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d measurements %v, want %d", len(ms), ms, len(want))
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("measurement %d = %v, want %v", i, ms[i], want[i])
		}
	}
}

func TestReportMediansPerBinary(t *testing.T) {
	samples := map[key][]float64{
		{"a.test", "BenchmarkX-2", "ns/op"}: {300, 100, 200},
		{"b.test", "BenchmarkX-2", "ns/op"}: {50, 70, 60, 80},
	}
	out := report([]string{"a.test", "b.test"}, samples)
	for _, want := range []string{"200 (100–300) n=3", "65 (50–80) n=4", "BenchmarkX-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
