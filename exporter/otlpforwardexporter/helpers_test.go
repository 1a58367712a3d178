package otlpforwardexporter

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// otlpServer is an in-process OTLP/gRPC server on 127.0.0.1 that keeps what it receives.
type otlpServer struct {
	addr string
	srv  *grpc.Server

	mu           sync.Mutex
	logs         []plog.Logs
	traces       []ptrace.Traces
	calls        int
	compressions []string
	// reply decides the outcome of call number n (1-based); nil means success.
	reply func(n int) (partial int64, err error)
}

// startOTLPServer listens on addr ("127.0.0.1:0" for any port) and stops at test end.
func startOTLPServer(t testing.TB, addr string, opts ...grpc.ServerOption) *otlpServer {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	s := &otlpServer{addr: lis.Addr().String()}
	s.srv = grpc.NewServer(append([]grpc.ServerOption{grpc.StatsHandler(compressionRecorder{s})}, opts...)...)
	plogotlp.RegisterGRPCServer(s.srv, &logsService{s: s})
	ptraceotlp.RegisterGRPCServer(s.srv, &tracesService{s: s})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(func() {
		s.srv.Stop()
		<-done
	})
	return s
}

func (s *otlpServer) call() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.reply == nil {
		return 0, nil
	}
	return s.reply(s.calls)
}

func (s *otlpServer) setReply(f func(n int) (int64, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = f
}

func (s *otlpServer) snapshot() (logs []plog.Logs, traces []ptrace.Traces, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]plog.Logs(nil), s.logs...), append([]ptrace.Traces(nil), s.traces...), s.calls
}

func (s *otlpServer) logRecords() int {
	logs, _, _ := s.snapshot()
	n := 0
	for _, ld := range logs {
		n += ld.LogRecordCount()
	}
	return n
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	s *otlpServer
}

func (l *logsService) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	partial, err := l.s.call()
	resp := plogotlp.NewExportResponse()
	if err != nil {
		return resp, err
	}
	kept := plog.NewLogs()
	req.Logs().CopyTo(kept)
	l.s.mu.Lock()
	l.s.logs = append(l.s.logs, kept)
	l.s.mu.Unlock()
	if partial > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(partial)
		resp.PartialSuccess().SetErrorMessage("some records were rejected")
	}
	return resp, nil
}

type tracesService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *otlpServer
}

func (tr *tracesService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	partial, err := tr.s.call()
	resp := ptraceotlp.NewExportResponse()
	if err != nil {
		return resp, err
	}
	kept := ptrace.NewTraces()
	req.Traces().CopyTo(kept)
	tr.s.mu.Lock()
	tr.s.traces = append(tr.s.traces, kept)
	tr.s.mu.Unlock()
	if partial > 0 {
		resp.PartialSuccess().SetRejectedSpans(partial)
		resp.PartialSuccess().SetErrorMessage("some spans were rejected")
	}
	return resp, nil
}

// compressionRecorder notes the grpc-encoding of every incoming call.
type compressionRecorder struct{ s *otlpServer }

func (c compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}

func (c compressionRecorder) HandleRPC(_ context.Context, st stats.RPCStats) {
	if h, ok := st.(*stats.InHeader); ok {
		c.s.mu.Lock()
		c.s.compressions = append(c.s.compressions, h.Compression)
		c.s.mu.Unlock()
	}
}

func (c compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (c compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}

// testConfig is a config for endpoint with snappy, plain gRPC, fast retries and no queue.
func testConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.Compression = configcompression.TypeSnappy
	cfg.ClientConfig.TLS.Insecure = true
	cfg.TimeoutConfig.Timeout = 5 * time.Second
	cfg.RetryConfig = configretry.BackOffConfig{
		Enabled:         true,
		InitialInterval: 5 * time.Millisecond,
		MaxInterval:     20 * time.Millisecond,
		Multiplier:      1.5,
		MaxElapsedTime:  10 * time.Second,
	}
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	return cfg
}

// sampleLogs builds n log records across two resources with non-ASCII text and
// typed attributes, like a parsed JSON line.
func sampleLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	for r := 0; r < 2; r++ {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "checkout")
		rl.Resource().Attributes().PutStr("k8s.node.name", "nœud-ü-1")
		rl.Resource().Attributes().PutInt("resource.index", int64(r))
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("file_tail")
		for i := r; i < n; i += 2 {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr(`{"msg":"Bestellung über 42 € bestätigt — 注文を確認しました","order":` + strconv.Itoa(i) + `}`)
			lr.Attributes().PutStr("user.id", "u-"+strconv.Itoa(i))
			lr.Attributes().PutInt("http.status_code", 200)
			lr.Attributes().PutDouble("duration_ms", 12.5)
			lr.Attributes().PutBool("cached", i%3 == 0)
		}
	}
	return ld
}

func sampleTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "paiement-é")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("charge 💳 " + strconv.Itoa(i))
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, byte(i)})
		sp.SetSpanID(pcommon.SpanID{4, 5, byte(i)})
		sp.SetStartTimestamp(1_700_000_000_000_000_000)
		sp.SetEndTimestamp(1_700_000_000_100_000_000)
		sp.Attributes().PutStr("payment.provider", "straße")
	}
	return td
}
