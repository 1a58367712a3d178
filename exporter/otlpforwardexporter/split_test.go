package otlpforwardexporter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
)

// bigLogs builds n records with bodies of size bytes (one resource, one scope), numbered
// in the body so that order and completeness can be checked.
func bigLogs(n, size int, sizeOf func(i int) int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		s := size
		if sizeOf != nil {
			s = sizeOf(i)
		}
		lrs.AppendEmpty().Body().SetStr(fmt.Sprintf("%06d %s", i, strings.Repeat("x", s)))
	}
	return ld
}

// receivedBodies lists the record numbers the server received, in order, and the
// largest request it received.
func receivedBodies(t *testing.T, srv *otlpServer) (numbers []string, largest int) {
	t.Helper()
	got, _, _ := srv.snapshot()
	m := plog.ProtoMarshaler{}
	for _, ld := range got {
		largest = max(largest, m.LogsSize(ld))
		for _, rl := range ld.ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			assert.Equal(t, "checkout", svc.Str(), "every part keeps its resource")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					numbers = append(numbers, lr.Body().Str()[:6])
				}
			}
		}
	}
	return numbers, largest
}

func wantNumbers(n int, skip ...int) []string {
	var out []string
	for i := range n {
		if !slices.Contains(skip, i) {
			out = append(out, fmt.Sprintf("%06d", i))
		}
	}
	return out
}

// A batch over max_request_bytes (here about 5 MiB against the 4 MiB default, what
// file_tail hands over when it catches up on long lines) is sent in parts, each record
// once, in order: a gRPC server with its default receive limit refuses more for good.
func TestLargeBatchIsSentInParts(t *testing.T) {
	for _, compression := range []configcompression.Type{configcompression.TypeSnappy, configcompression.TypeGzip, ""} {
		t.Run(string(compression), func(t *testing.T) {
			srv := startOTLPServer(t, "127.0.0.1:0") // gRPC's default 4 MiB receive limit
			cfg := testConfig(srv.addr)
			cfg.ClientConfig.Compression = compression
			consume := startLogs(t, cfg, nil)

			require.NoError(t, consume(context.Background(), bigLogs(1200, 4096, nil)))
			numbers, largest := receivedBodies(t, srv)
			assert.Equal(t, wantNumbers(1200), numbers)
			assert.LessOrEqual(t, largest, defaultMaxRequestBytes)
			_, _, calls := srv.snapshot()
			assert.Equal(t, 2, calls, "a 5 MiB batch in two requests")
		})
	}
}

// A server whose limit is below max_request_bytes refuses the request as too large: it is
// halved until the parts pass.
func TestServerLimitBelowMaxRequestBytes(t *testing.T) {
	const serverLimit = 256 << 10
	srv := startOTLPServer(t, "127.0.0.1:0", grpc.MaxRecvMsgSize(serverLimit))
	consume := startLogs(t, testConfig(srv.addr), nil)

	require.NoError(t, consume(context.Background(), bigLogs(300, 3000, nil))) // ~0.9 MiB
	numbers, largest := receivedBodies(t, srv)
	assert.Equal(t, wantNumbers(300), numbers)
	assert.LessOrEqual(t, largest, serverLimit)

	// Spans take the same way.
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range 200 {
		spans.AppendEmpty().SetName(fmt.Sprintf("%04d %s", i, strings.Repeat("s", 4000)))
	}
	exp := startTraces(t, testConfig(srv.addr))
	require.NoError(t, exp(context.Background(), td))
	_, gotTraces, _ := srv.snapshot()
	var names []string
	for _, got := range gotTraces {
		for _, rs := range got.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					names = append(names, sp.Name()[:4])
				}
			}
		}
	}
	require.Len(t, names, 200)
	for i, n := range names {
		require.Equal(t, fmt.Sprintf("%04d", i), n)
	}
}

// A record the server refuses even alone cannot be delivered: the others are, and the
// request fails permanently (counted as failed), naming how many were refused.
func TestRecordLargerThanServerLimit(t *testing.T) {
	const serverLimit = 64 << 10
	srv := startOTLPServer(t, "127.0.0.1:0", grpc.MaxRecvMsgSize(serverLimit))
	consume := startLogs(t, testConfig(srv.addr), nil)

	ld := bigLogs(21, 100, func(i int) int {
		if i == 10 {
			return 100 << 10
		}
		return 100
	})
	err := consume(context.Background(), ld)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "1 of the request's 21 records refused by the server as too large")
	numbers, _ := receivedBodies(t, srv)
	assert.Equal(t, wantNumbers(21, 10), numbers)
}
