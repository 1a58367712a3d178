package agentbench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/monitor"
	"github.com/sluicelogs/sluice/testbed/validate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAgentDeliversEveryLineOnceMasked runs the shipped agent config for a
// few seconds at a low rate: every written line must reach the sink exactly
// once, with its write time and none of its PII. Timings are reported, never
// asserted (the agentbench command measures them).
func TestAgentDeliversEveryLineOnceMasked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the agent binary")
	}
	bin := backend.SluiceBinary(t)
	cfg := Config{Rate: 2000, Duration: 5 * time.Second, WorkDir: t.TempDir()}
	target := Target{Name: "sluice", Binary: bin, Config: filepath.Join(moduleRoot(t), "configs", "agent.yaml"), MustMask: true}
	res := RunOne(context.Background(), cfg, target, filepath.Join(cfg.WorkDir, "sluice"))
	var md bytes.Buffer
	Markdown(&md, cfg, []Result{res}, time.Now())
	t.Log("\n" + md.String())
	if res.Err != nil {
		if res.AgentLog != "" {
			if b, err := os.ReadFile(res.AgentLog); err == nil {
				t.Logf("agent log:\n%s", b)
			}
		}
		t.Fatal(res.Err)
	}
	if res.Written < 1000 {
		t.Fatalf("only %d lines written in %s", res.Written, cfg.Duration)
	}
	if res.Accounting.Delivered != res.Written || res.Accounting.Lost != 0 || res.Accounting.Duplicates != 0 {
		t.Fatalf("accounting %s, want all %d delivered once", res.Accounting, res.Written)
	}
	if res.Leaked != 0 || res.Latency.Count != int(res.Written) {
		t.Fatalf("%d records with PII, %d latencies for %d lines", res.Leaked, res.Latency.Count, res.Written)
	}
}

func TestAppLogLineCarriesWriteTimeIDAndPII(t *testing.T) {
	written := time.Date(2026, 11, 21, 8, 0, 0, 123456789, time.UTC)
	cards := 0
	for n := range 40 {
		id := "run-f" + strconv.Itoa(n)
		line := loadgen.AppendAppLogLine(nil, id, n, written)
		if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("line %d is not one JSON line: %q", n, line)
		}
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, line)
		}
		if doc[validate.IDAttribute] != id {
			t.Fatalf("line %d id %v, want %s", n, doc[validate.IDAttribute], id)
		}
		if got, err := time.Parse(time.RFC3339Nano, doc[loadgen.AppLogTimeKey].(string)); err != nil || !got.Equal(written) {
			t.Fatalf("line %d time %v (%v), want %v", n, doc[loadgen.AppLogTimeKey], err, written)
		}
		if id, ok := loadgen.ParseFileLineID(string(line)); !ok || id != "run-f"+strconv.Itoa(n) {
			t.Fatalf("ParseFileLineID(line %d) = %q, %v", n, id, ok)
		}
		pii := loadgen.AppLogPII(n)
		if len(pii) < 2 {
			t.Fatalf("line %d plants %d PII values, want e-mail and IPv4 at least", n, len(pii))
		}
		for _, v := range pii {
			if !bytes.Contains(line, []byte(v)) {
				t.Fatalf("line %d lacks its PII %q: %s", n, v, line)
			}
		}
		if len(pii) == 3 {
			cards++
			if !luhnValid(pii[2]) || len(pii[2]) != 16 {
				t.Fatalf("card %q of line %d is not a Luhn-valid 16-digit number", pii[2], n)
			}
		}
	}
	if cards != 10 {
		t.Fatalf("%d of 40 lines carry a card, want every fourth", cards)
	}
}

func luhnValid(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestSinkMeasuresLatencyAndFindsSurvivingPII(t *testing.T) {
	sink, err := StartSink("run-f", "warm-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sink.Stop() }()
	conn, err := grpc.NewClient(sink.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	written := time.Now().Add(-40 * time.Millisecond)
	// Masked, with the write time lifted into the timestamp.
	masked := recs.AppendEmpty()
	masked.SetTimestamp(pcommon.NewTimestampFromTime(written))
	masked.Body().SetStr("login succeeded for [REDACTED:email] from 203.0.113.0")
	masked.Attributes().PutStr(validate.IDAttribute, "run-f2")
	// The e-mail of line 3 left in a nested body field; write time as an attribute.
	leaky := recs.AppendEmpty()
	leaky.Body().SetEmptyMap().PutEmptyMap("user").PutStr("email", loadgen.AppLogPII(3)[0])
	leaky.Attributes().PutStr(validate.IDAttribute, "run-f3")
	leaky.Attributes().PutStr("client.ip", loadgen.AppLogPII(3)[1]) // a second survivor: the record still counts once
	leaky.Attributes().PutStr(loadgen.AppLogTimeKey, written.UTC().Format(time.RFC3339Nano))
	// The same masked line again, a warm-up line, one without an id and one without a time.
	masked.CopyTo(recs.AppendEmpty())
	recs.AppendEmpty().Attributes().PutStr(validate.IDAttribute, "warm-f0")
	recs.AppendEmpty().Body().SetStr("no id")
	recs.AppendEmpty().Attributes().PutStr(validate.IDAttribute, "run-f5")

	if _, err := plogotlp.NewGRPCClient(conn).Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
	st := sink.Stats()
	if st.Received.Count("run-f2") != 2 || st.Received.Count("run-f3") != 1 || st.Received.Count("run-f5") != 1 || st.Received.Total() != 4 {
		t.Fatalf("received %d ids (run-f2 ×%d)", st.Received.Total(), st.Received.Count("run-f2"))
	}
	if st.Warmup != 1 || st.Unexpected != 1 || st.NoWriteTime != 1 {
		t.Fatalf("warm-up %d, unexpected %d, no write time %d; want 1 each", st.Warmup, st.Unexpected, st.NoWriteTime)
	}
	if st.Leaked != 1 || !strings.Contains(st.FirstLeak, "run-f3") || !strings.Contains(st.FirstLeak, "body.user.email") {
		t.Fatalf("leaked %d (%s), want the e-mail of run-f3 in body.user.email", st.Leaked, st.FirstLeak)
	}
	if len(st.Latencies) != 3 {
		t.Fatalf("%d latencies, want 3", len(st.Latencies))
	}
	for _, l := range st.Latencies {
		if l.Latency < 40*time.Millisecond || l.Latency > time.Minute || l.WrittenUnixNano != written.UnixNano() {
			t.Fatalf("sample %+v, want written at %d and at least the 40ms the records were old", l, written.UnixNano())
		}
	}
}

func TestLatencyPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := LatencyPercentiles(d)
	want := Percentiles{Count: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if p != want {
		t.Fatalf("percentiles %+v, want %+v", p, want)
	}
	if d[0] != 100*time.Millisecond {
		t.Fatal("input was reordered")
	}
	if p := LatencyPercentiles([]time.Duration{7}); p.P50 != 7 || p.P99 != 7 || p.Max != 7 {
		t.Fatalf("one sample: %+v", p)
	}
	if p := LatencyPercentiles(nil); p != (Percentiles{}) {
		t.Fatalf("no samples: %+v", p)
	}
}

func TestTimelineTellsStallsFromSteadyState(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var samples []LatencySample
	for sec := range 10 {
		lat := 10 * time.Millisecond
		if sec == 6 {
			lat = 900 * time.Millisecond // a stall
		}
		for i := range 100 {
			samples = append(samples, LatencySample{WrittenUnixNano: start + int64(sec)*int64(time.Second) + int64(i)*int64(time.Millisecond), Latency: lat})
		}
	}
	all, tl := summarizeLatencies(samples)
	// One stalled second in ten moves the overall p95; the median of per-second p95s stays.
	if all.Count != 1000 || all.P50 != 10*time.Millisecond || all.P95 != 900*time.Millisecond {
		t.Fatalf("overall %+v", all)
	}
	if tl.Seconds != 10 || tl.SlowSeconds != 1 || tl.WorstAt != 6 || tl.Worst.P95 != 900*time.Millisecond || tl.MedianP95 != 10*time.Millisecond {
		t.Fatalf("timeline %+v, want 10 s, 1 slow (the 7th), median p95 10ms", tl)
	}
	if _, tl := summarizeLatencies(nil); tl != (Timeline{}) {
		t.Fatalf("no samples: %+v", tl)
	}
}

func TestMachineBusyShare(t *testing.T) {
	before, err := readCPUTimes()
	if err != nil {
		t.Skip(err)
	}
	after := cpuTimes{busy: before.busy + 30, total: before.total + 120}
	if got := after.busyShareSince(before); got != 0.25 {
		t.Fatalf("busy share %v, want 0.25", got)
	}
	if got := before.busyShareSince(before); got != -1 {
		t.Fatalf("busy share of no time %v, want -1 (unknown)", got)
	}
}

func TestMarkdownShowsFiguresVerdictsAndSettings(t *testing.T) {
	ok := Result{
		Target: "sluice", Written: 600000, WriteElapsed: 60 * time.Second, DeliveredInWindow: 599000, Drain: 150 * time.Millisecond,
		Resources: monitor.Stats{CPUSeconds: 6.6, CPUPercent: 11, AvgRSSBytes: 100 << 20, MaxRSSBytes: 120 << 20, MaxAnonRSSBytes: 30 << 20},
		Latency:   Percentiles{Count: 600000, P50: 100 * time.Millisecond, P95: 190 * time.Millisecond, P99: 198 * time.Millisecond, Max: 250 * time.Millisecond},
		Timeline: Timeline{
			Seconds: 60, SlowSeconds: 60, MedianP95: 180 * time.Millisecond, WorstAt: 12,
			Worst: Percentiles{Count: 10000, P95: 250 * time.Millisecond, Max: 250 * time.Millisecond},
		},
		MachineBusy: 0.45,
	}
	tuned := ok
	tuned.Target, tuned.Settings, tuned.Env = "sluice batch 10ms", []string{"processors::batch::timeout=10ms"}, []string{"GOGC=200"}
	tuned.Resources.CPUPercent, tuned.Latency.P95 = 9, 20*time.Millisecond
	failed := Result{Target: "otelcol-peer", MachineBusy: -1, Leaked: 3, FirstLeak: `record x: "a@b.example" in body.`, Err: errTest("accounting: 2 lost")}
	var b bytes.Buffer
	Markdown(&b, Config{Rate: 10000, Duration: time.Minute}, []Result{ok, tuned, failed}, time.Unix(0, 0))
	out := b.String()
	for _, want := range []string{
		"# Agent: tail → parse → mask → forward, 10000 lines/s for 1m0s",
		"| sluice | 600000 | 10000 | 9983 | 11.0 | 11.00 | 100.0 | 120.0 | 30.0 | 100.0 | 190.0 | 198.0 | 250.0 | 180.0 | 60 of 60 | 150.0 | 45 | 0 | 0 | 0 | ok, misses CPU+p95 |",
		"| sluice batch 10ms | 600000 | 10000 | 9983 | 9.0 | 11.00 | 100.0 | 120.0 | 30.0 | 100.0 | 20.0 | 198.0 | 250.0 | 180.0 | 60 of 60 | 150.0 | 45 | 0 | 0 | 0 | ok, meets targets |",
		"| otelcol-peer | 0 | 0 | 0 | 0.0 | 0.00 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 0 of 0 | 0.0 | ? | 0 | 0 | 3 | FAILED |",
		"  - worst second: 12 s after the first line, p95 250.0 ms, max 250.0 ms (10000 lines)",
		"| FAILED |",
		"- sluice: config as shipped;",
		"- sluice batch 10ms: config as shipped with --set processors::batch::timeout=10ms, environment GOGC=200;",
		`  - PII left, e.g. record x: "a@b.example" in body.`,
		"  - error: accounting: 2 lost",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownMediansPerTargetInRunOrder(t *testing.T) {
	run := func(target string, cpu float64, p95 time.Duration, rssMiB uint64) Result {
		return Result{Target: target, Resources: monitor.Stats{CPUPercent: cpu, MaxRSSBytes: rssMiB << 20, MaxAnonRSSBytes: rssMiB << 19}, Latency: Percentiles{P95: p95}}
	}
	failed := run("base", 99, time.Second, 999)
	failed.Err = errTest("agent exited")
	results := []Result{
		run("new", 20, 22*time.Millisecond, 100), run("base", 30, 24*time.Millisecond, 140),
		run("new", 26, 24*time.Millisecond, 104), failed,
		run("new", 22, 23*time.Millisecond, 102), run("base", 28, 26*time.Millisecond, 138),
		{Target: "broken", Err: errTest("no binary")},
	}
	var b bytes.Buffer
	MarkdownMedians(&b, results)
	out := b.String()
	for _, want := range []string{
		"| new | 3 | 22.0 (20.0–26.0) | 23.0 | 102.0 | 51.0 |",
		"| base | 2 | 29.0 (28.0–30.0) | 25.0 | 139.0 | 69.5 |", // the failed run is left out
		"| broken | 0 | — | — | — | — |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("medians lack %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "| new |") > strings.Index(out, "| base |") {
		t.Errorf("targets not in the order they first ran:\n%s", out)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestPeerConfigTailsTheDirAndForwardsToTheSink(t *testing.T) {
	c := PeerConfig("/tmp/run/logs", "127.0.0.1:4999", 9999)
	for _, want := range []string{
		`include: ["/tmp/run/logs/*.log"]`, "type: json_parser", "parse_from: attributes.time",
		"endpoint: 127.0.0.1:4999", "port: 9999", "processors: [memory_limiter, redaction, batch]", "exporters: [otlp_grpc]",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("peer config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "storage") {
		t.Errorf("peer config names a storage extension the peer does not have:\n%s", c)
	}
}

func TestRunOneReportsMissingBinaryAndBadConfig(t *testing.T) {
	dir := t.TempDir()
	res := RunOne(context.Background(), Config{Rate: 10, Duration: time.Second}, Target{Name: "ghost", Binary: "/nonexistent/sluice", Config: "x.yaml"}, dir)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "ghost binary") {
		t.Fatalf("err = %v, want a missing-binary error", res.Err)
	}
	res = RunOne(context.Background(), Config{Rate: 0, Duration: time.Second}, Target{Name: "x"}, dir)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "must be positive") {
		t.Fatalf("err = %v, want a rate error", res.Err)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := backend.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
