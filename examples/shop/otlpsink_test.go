package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// otlpSink is an in-test OTLP receiver (HTTP/protobuf or gRPC) that keeps everything it is sent.
type otlpSink struct {
	mu     sync.Mutex
	traces []ptrace.Traces
	logs   []plog.Logs
}

// startSink serves an otlpSink over protocol on 127.0.0.1 and returns it with its base URL.
func startSink(t *testing.T, protocol string) (*otlpSink, string) {
	t.Helper()
	s := &otlpSink{}
	if protocol == protocolHTTP {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
			req := ptraceotlp.NewExportRequest()
			if !s.decode(t, w, r, req.UnmarshalProto) {
				return
			}
			s.addTraces(req.Traces())
			s.answer(t, w, ptraceotlp.NewExportResponse().MarshalProto)
		})
		mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, r *http.Request) {
			req := plogotlp.NewExportRequest()
			if !s.decode(t, w, r, req.UnmarshalProto) {
				return
			}
			s.addLogs(req.Logs())
			s.answer(t, w, plogotlp.NewExportResponse().MarshalProto)
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return s, srv.URL
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &grpcTraces{sink: s})
	plogotlp.RegisterGRPCServer(srv, &grpcLogs{sink: s})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return s, "http://" + ln.Addr().String()
}

func (s *otlpSink) decode(t *testing.T, w http.ResponseWriter, r *http.Request, unmarshal func([]byte) error) bool {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = unmarshal(body)
	}
	if err != nil {
		t.Errorf("OTLP/HTTP request %s: %v", r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (s *otlpSink) answer(t *testing.T, w http.ResponseWriter, marshal func() ([]byte, error)) {
	b, err := marshal()
	if err != nil {
		t.Errorf("OTLP response: %v", err)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func (s *otlpSink) addTraces(td ptrace.Traces) {
	c := ptrace.NewTraces()
	td.CopyTo(c)
	s.mu.Lock()
	s.traces = append(s.traces, c)
	s.mu.Unlock()
}

func (s *otlpSink) addLogs(ld plog.Logs) {
	c := plog.NewLogs()
	ld.CopyTo(c)
	s.mu.Lock()
	s.logs = append(s.logs, c)
	s.mu.Unlock()
}

type grpcTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	sink *otlpSink
}

func (g *grpcTraces) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	g.sink.addTraces(req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

type grpcLogs struct {
	plogotlp.UnimplementedGRPCServer
	sink *otlpSink
}

func (g *grpcLogs) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	g.sink.addLogs(req.Logs())
	return plogotlp.NewExportResponse(), nil
}

// gotSpan is a received span, flattened with its service.
type gotSpan struct {
	service                   string
	traceID, spanID, parentID string
	name                      string
	kind                      ptrace.SpanKind
	status                    ptrace.StatusCode
	attrs                     map[string]any
	duration                  time.Duration
	events                    map[string]map[string]any // by event name
}

// gotLog is a received log record, flattened with its resource.
type gotLog struct {
	service         string
	environment     string
	traceID, spanID string
	severity        plog.SeverityNumber
	body            string
	attrs           map[string]any
}

func (s *otlpSink) spans() []gotSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []gotSpan
	for _, td := range s.traces {
		for _, rs := range td.ResourceSpans().All() {
			service, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					g := gotSpan{
						service:  service.Str(),
						traceID:  sp.TraceID().String(),
						spanID:   sp.SpanID().String(),
						name:     sp.Name(),
						kind:     sp.Kind(),
						status:   sp.Status().Code(),
						attrs:    sp.Attributes().AsRaw(),
						duration: sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime()),
						events:   map[string]map[string]any{},
					}
					if !sp.ParentSpanID().IsEmpty() {
						g.parentID = sp.ParentSpanID().String()
					}
					for _, ev := range sp.Events().All() {
						g.events[ev.Name()] = ev.Attributes().AsRaw()
					}
					out = append(out, g)
				}
			}
		}
	}
	return out
}

func (s *otlpSink) logRecords() []gotLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []gotLog
	for _, ld := range s.logs {
		out = append(out, flattenLogs(ld)...)
	}
	return out
}

func flattenLogs(ld plog.Logs) []gotLog {
	var out []gotLog
	for _, rl := range ld.ResourceLogs().All() {
		service, _ := rl.Resource().Attributes().Get("service.name")
		env, _ := rl.Resource().Attributes().Get("deployment.environment")
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				g := gotLog{
					service:     service.Str(),
					environment: env.Str(),
					severity:    lr.SeverityNumber(),
					body:        lr.Body().AsString(),
					attrs:       lr.Attributes().AsRaw(),
				}
				if !lr.TraceID().IsEmpty() {
					g.traceID = lr.TraceID().String()
				}
				if !lr.SpanID().IsEmpty() {
					g.spanID = lr.SpanID().String()
				}
				out = append(out, g)
			}
		}
	}
	return out
}

// allLogs merges everything received into one plog.Logs.
func (s *otlpSink) allLogs() plog.Logs {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := plog.NewLogs()
	for _, ld := range s.logs {
		c := plog.NewLogs()
		ld.CopyTo(c)
		c.ResourceLogs().MoveAndAppendTo(all.ResourceLogs())
	}
	return all
}
