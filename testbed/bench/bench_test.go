package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/testbed/monitor"
	"github.com/sluicelogs/sluice/testbed/validate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMarkdownSideBySideWithRatio(t *testing.T) {
	sc := Scenarios(10 * time.Second)["passthrough-max"]
	results := []Result{
		{Target: "sluice", Acked: 200000, Elapsed: 10 * time.Second, Resources: monitor.Stats{CPUSeconds: 1, CPUPercent: 10, AvgRSSBytes: 60 << 20, MaxRSSBytes: 80 << 20}},
		{
			Target: "otelcol-peer", Acked: 100000, Elapsed: 10 * time.Second, Resources: monitor.Stats{CPUSeconds: 2, CPUPercent: 20, AvgRSSBytes: 30 << 20, MaxRSSBytes: 40 << 20},
			Err: errors.New("accounting failed: 3 lost"),
		},
	}
	var b bytes.Buffer
	Markdown(&b, sc, results, time.Unix(0, 0))
	out := b.String()
	for _, want := range []string{
		"# Scenario `passthrough-max`",
		"| sluice | 200000 | 20000 | 10.0 | 5.00 | 60.0 | 80.0 | ok: 0 lost, 0 duplicated |",
		"| otelcol-peer | 100000 | 10000 | 20.0 | 20.00 | 30.0 | 40.0 | FAILED |",
		"| **sluice / otelcol-peer** | | 2.00× | 0.50× | 0.25× | 2.00× | 2.00× | |",
		"- otelcol-peer error: accounting failed: 3 lost",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestRunReportsMissingBinary(t *testing.T) {
	res := Run(context.Background(), Scenarios(time.Second)["smoke"], []Target{{Name: "ghost", Binary: "/nonexistent/otelcol"}}, t.TempDir())
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "ghost binary") {
		t.Fatalf("results = %+v, want a missing-binary error", res)
	}
}

func TestAccountFlagsLossInFileOutput(t *testing.T) {
	dir := t.TempDir()
	out := dir + "/out.json"
	// An empty output against 3 acknowledged records is 3 lost.
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sent := validate.NewMultiset("x-")
	sent.AddSeq(0, 3)
	var res Result
	err := account(&res, out, false, sent, nil)
	if err == nil || res.Logs.Lost != 3 {
		t.Fatalf("err = %v, lost = %d; want 3 lost", err, res.Logs.Lost)
	}
}

func TestPassThroughConfigShape(t *testing.T) {
	c := passThroughConfig(4317, "/tmp/x/out.json")
	for _, want := range []string{"endpoint: 127.0.0.1:4317", "path: /tmp/x/out.json", "receivers: [otlp]", "exporters: [file]", "level: none"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}
