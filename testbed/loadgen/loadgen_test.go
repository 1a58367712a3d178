package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/sluicelogs/sluice/testbed/validate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is an in-process OTLP gRPC server recording what it receives.
type sink struct {
	plogotlp.UnimplementedGRPCServer
	mu       sync.Mutex
	logs     []plog.Logs
	spanIDs  *validate.Multiset
	failNext atomic.Int32 // refuse this many log exports
}

type traceSink struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (s *sink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	if s.failNext.Add(-1) >= 0 {
		return plogotlp.NewExportResponse(), errors.New("refused")
	}
	ld := plog.NewLogs()
	req.Logs().CopyTo(ld)
	s.mu.Lock()
	s.logs = append(s.logs, ld)
	s.mu.Unlock()
	return plogotlp.NewExportResponse(), nil
}

func (t *traceSink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	validate.EachSpanID(req.Traces(), t.s.spanIDs.Add)
	return ptraceotlp.NewExportResponse(), nil
}

func startSink(t *testing.T, prefix string) (*sink, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	s := &sink{spanIDs: validate.NewMultiset(prefix + "-s")}
	plogotlp.RegisterGRPCServer(srv, s)
	ptraceotlp.RegisterGRPCServer(srv, &traceSink{s: s})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s, l.Addr().String()
}

func (s *sink) logIDs(prefix string) *validate.Multiset {
	ids := validate.NewMultiset(prefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ld := range s.logs {
		validate.EachLogID(ld, ids.Add)
	}
	return ids
}

func TestRunRawAccountsEveryAcknowledgedRecord(t *testing.T) {
	s, addr := startSink(t, "raw")
	s.failNext.Store(2) // the first attempts are retried, not lost
	res, err := RunRaw(context.Background(), RawConfig{Endpoint: addr, Workers: 3, BatchSize: 64, MaxRecords: 1000, RunID: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 1000 || res.Rejected != 0 || res.Sent.Distinct() != 1000 {
		t.Fatalf("acked %d rejected %d distinct %d, want 1000/0/1000", res.Acked, res.Rejected, res.Sent.Distinct())
	}
	rep := validate.Account(res.Sent, validate.Outcome{Delivered: s.logIDs("raw-")})
	if err := rep.Err(false); err != nil {
		t.Fatal(err)
	}
	if res.RecordsPerSecond() <= 0 {
		t.Fatal("no throughput reported")
	}
}

func TestRunRawCountsRejectedRecords(t *testing.T) {
	s, addr := startSink(t, "rej")
	s.failNext.Store(1 << 20)
	res, err := RunRaw(context.Background(), RawConfig{Endpoint: addr, Workers: 1, BatchSize: 10, MaxRecords: 10, RunID: "rej"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 0 || res.Rejected != 10 || res.Sent.Total() != 0 {
		t.Fatalf("acked %d rejected %d sent %d, want 0/10/0", res.Acked, res.Rejected, res.Sent.Total())
	}
	if _, err := RunRaw(context.Background(), RawConfig{Endpoint: addr}); err == nil {
		t.Fatal("unbounded run accepted")
	}
}

func TestRunSDKSendsRealisticCorrelatedTraffic(t *testing.T) {
	s, addr := startSink(t, "sdk")
	res, err := RunSDK(context.Background(), SDKConfig{Endpoint: addr, Requests: 60, FailureRate: 0.2, Seed: 7, RunID: "sdk"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExportErrors != 0 {
		t.Fatalf("%d export errors", res.ExportErrors)
	}
	got := s.logIDs("sdk-l")
	if err := validate.Account(res.Logs, validate.Outcome{Delivered: got}).Err(false); err != nil {
		t.Fatalf("logs: %v", err)
	}
	if err := validate.Account(res.Spans, validate.Outcome{Delivered: s.spanIDs}).Err(false); err != nil {
		t.Fatalf("spans: %v", err)
	}
	if res.Spans.Total() != 60*4 || res.Logs.Total() < 60*4 {
		t.Fatalf("%d spans and %d logs for 60 requests", res.Spans.Total(), res.Logs.Total())
	}

	// Every request's logs share one trace id across the four services.
	services := map[string]map[string]bool{} // trace → services
	var bodies []string
	s.mu.Lock()
	for _, ld := range s.logs {
		for _, rl := range ld.ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					tid := lr.TraceID().String()
					if services[tid] == nil {
						services[tid] = map[string]bool{}
					}
					services[tid][svc.Str()] = true
					bodies = append(bodies, lr.Body().AsString())
				}
			}
		}
	}
	s.mu.Unlock()
	if len(services) != 60 {
		t.Fatalf("%d distinct trace ids in logs, want 60", len(services))
	}
	for tid, svcs := range services {
		if len(svcs) != 4 {
			t.Fatalf("trace %s has logs from %v, want 4 services", tid, svcs)
		}
	}
	failed := 0
	for _, f := range res.Failed {
		if f {
			failed++
		}
	}
	if failed == 0 || failed == 60 {
		t.Fatalf("%d of 60 requests failed at failure rate 0.2", failed)
	}
	all := strings.Join(bodies, "\n")
	for _, want := range []string{"\tat com.shop.payments.Gateway.charge", `{"event":"order.created"`, "HTTP/1.1\" 200", res.PII[0]} {
		if !strings.Contains(all, want) {
			t.Errorf("bodies lack %q", want)
		}
	}
}

func TestCardNumberIsLuhnValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		c := cardNumber(rng)
		sum := 0
		for i := range c {
			d := int(c[len(c)-1-i] - '0')
			if i%2 == 1 {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		if len(c) != 16 || sum%10 != 0 {
			t.Fatalf("card %s is not a Luhn-valid 16-digit number", c)
		}
	}
}

func readIDsFromFiles(t *testing.T, paths ...string) *validate.Multiset {
	t.Helper()
	ids := validate.NewMultiset("")
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, ok := ParseFileLineID(sc.Text())
			if !ok {
				t.Fatalf("line without id in %s: %q", p, sc.Text())
			}
			ids.Add(id)
		}
		f.Close()
	}
	return ids
}

func TestWriteFileRotations(t *testing.T) {
	for _, tc := range []struct {
		mode RotateMode
		json bool
	}{{RotateRename, false}, {RotateCopyTruncate, true}, {RotateNone, false}} {
		t.Run(string(tc.mode)+fmt.Sprint(tc.json), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			every := 0
			if tc.mode != RotateNone {
				every = 30
			}
			res, err := WriteFile(context.Background(), FileConfig{Path: path, Lines: 100, RotateEvery: every, Mode: tc.mode, Keep: 4, JSON: tc.json, RunID: "f"})
			if err != nil {
				t.Fatal(err)
			}
			wantRot := 0
			if every > 0 {
				wantRot = 3
			}
			if res.Rotated != wantRot {
				t.Fatalf("rotated %d times, want %d", res.Rotated, wantRot)
			}
			got := readIDsFromFiles(t, path, path+".1", path+".2", path+".3", path+".4")
			if err := validate.Account(res.Written, validate.Outcome{Delivered: got}).Err(false); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := WriteFile(context.Background(), FileConfig{Path: filepath.Join(t.TempDir(), "x"), Lines: 3, RotateEvery: 1, Mode: "weird"}); err == nil ||
		!strings.Contains(err.Error(), "unknown rotate mode") {
		t.Fatalf("err = %v, want unknown rotate mode", err)
	}
}

func TestSendBulkCountsItemFailures(t *testing.T) {
	var docs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		var items []string
		for i := 0; i+1 < len(lines); i += 2 {
			n := docs.Add(1)
			status := 201
			switch n {
			case 3:
				status = 429
			case 7:
				status = 400
			}
			items = append(items, fmt.Sprintf(`{"create":{"status":%d}}`, status))
		}
		fmt.Fprintf(w, `{"errors":true,"items":[%s]}`, strings.Join(items, ","))
	}))
	defer srv.Close()
	res, err := SendBulk(context.Background(), BulkConfig{URL: srv.URL, Index: "logs", Docs: 25, BatchSize: 10, RunID: "b", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 2 || res.Accepted.Total() != 23 || res.Accepted.Count("b-b2") != 0 || res.Accepted.Count("b-b6") != 0 {
		t.Fatalf("failed %d accepted %d, want 2 and 23 without b-b2/b-b6", res.Failed, res.Accepted.Total())
	}
}

func FuzzParseFileLineID(f *testing.F) {
	f.Add("2026-01-01T00:00:00Z INFO request handled sluice.test.id=r1-f7 latency_ms=3\n")
	f.Add(`{"msg":"x","sluice.test.id":"r1-f8","latency_ms":1}`)
	f.Add("sluice.test.id=")
	f.Add(`"sluice.test.id":"`)
	f.Fuzz(func(t *testing.T, line string) {
		id, ok := ParseFileLineID(line)
		if ok && !strings.Contains(line, id) {
			t.Fatalf("id %q not in line %q", id, line)
		}
		if ok && id == "" {
			t.Fatalf("empty id reported as found in %q", line)
		}
	})
}

func TestParseFileLineIDRoundTrip(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		line := string(formatLine(nil, asJSON, "run-f42", 42))
		if id, ok := ParseFileLineID(line); !ok || id != "run-f42" {
			t.Fatalf("ParseFileLineID(%q) = %q, %v", line, id, ok)
		}
	}
}
