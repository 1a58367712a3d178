package otlpforwardexporter

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
)

func logsJSON(t *testing.T, ld plog.Logs) string {
	t.Helper()
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return string(b)
}

func tracesJSON(t *testing.T, td ptrace.Traces) string {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func startLogs(t *testing.T, cfg *Config, logger *zap.Logger) func(context.Context, plog.Logs) error {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	if logger != nil {
		set.Logger = logger
	}
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp.ConsumeLogs
}

func startTraces(t *testing.T, cfg *Config) func(context.Context, ptrace.Traces) error {
	t.Helper()
	exp, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp.ConsumeTraces
}

// Every compression delivers the same data under its encoding name; snappy's requests
// are compressed once, when encoded, and sent as they are (framedSnappy).
func TestForwardsLogsAndTracesUnchanged(t *testing.T) {
	for _, compression := range []configcompression.Type{configcompression.TypeSnappy, configcompression.TypeGzip, configcompression.TypeZstd, "" /* none */} {
		t.Run(string(compression), func(t *testing.T) {
			srv := startOTLPServer(t, "127.0.0.1:0")
			cfg := testConfig(srv.addr)
			cfg.ClientConfig.Compression = compression

			consumeLogs := startLogs(t, cfg, nil)
			traces, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			require.NoError(t, traces.Start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, traces.Shutdown(context.Background())) }()

			ld := sampleLogs(50)
			td := sampleTraces(7)
			require.NoError(t, consumeLogs(context.Background(), ld))
			require.NoError(t, traces.ConsumeTraces(context.Background(), td))

			gotLogs, gotTraces, calls := srv.snapshot()
			assert.Equal(t, 2, calls)
			require.Len(t, gotLogs, 1)
			require.Len(t, gotTraces, 1)
			assert.Equal(t, 50, gotLogs[0].LogRecordCount())
			assert.Equal(t, logsJSON(t, ld), logsJSON(t, gotLogs[0]))
			assert.Equal(t, tracesJSON(t, td), tracesJSON(t, gotTraces[0]))

			srv.mu.Lock()
			defer srv.mu.Unlock()
			assert.Equal(t, []string{string(compression), string(compression)}, srv.compressions)
		})
	}
}

func TestRetryableErrorThenSuccessDeliversOnce(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(n int) (int64, error) {
		if n == 1 {
			return 0, status.Error(codes.Unavailable, "gateway restarting")
		}
		return 0, nil
	})
	consume := startLogs(t, testConfig(srv.addr), nil)

	require.NoError(t, consume(context.Background(), sampleLogs(20)))
	gotLogs, _, calls := srv.snapshot()
	assert.Equal(t, 2, calls)
	require.Len(t, gotLogs, 1)
	assert.Equal(t, 20, gotLogs[0].LogRecordCount())
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(int) (int64, error) {
		return 0, status.Error(codes.InvalidArgument, "malformed")
	})
	consume := startLogs(t, testConfig(srv.addr), nil)

	err := consume(context.Background(), sampleLogs(5))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "error %v should be permanent", err)
	assert.Contains(t, err.Error(), "malformed")
	gotLogs, _, calls := srv.snapshot()
	assert.Equal(t, 1, calls)
	assert.Empty(t, gotLogs)
}

func TestResourceExhaustedRetriedOnlyWithRetryInfo(t *testing.T) {
	withInfo, err := status.New(codes.ResourceExhausted, "slow down").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Millisecond)})
	require.NoError(t, err)

	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(n int) (int64, error) {
		if n == 1 {
			return 0, withInfo.Err()
		}
		return 0, nil
	})
	consume := startLogs(t, testConfig(srv.addr), nil)
	require.NoError(t, consume(context.Background(), sampleLogs(3)))
	_, _, calls := srv.snapshot()
	assert.Equal(t, 2, calls)

	srv.setReply(func(int) (int64, error) { return 0, status.Error(codes.ResourceExhausted, "full") })
	err = consume(context.Background(), sampleLogs(3))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	_, _, calls = srv.snapshot()
	assert.Equal(t, 3, calls)
}

func TestPartialSuccessIsLoggedNotRetried(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(int) (int64, error) { return 3, nil })
	core, logs := observer.New(zapcore.WarnLevel)
	consume := startLogs(t, testConfig(srv.addr), zap.New(core))

	require.NoError(t, consume(context.Background(), sampleLogs(10)))
	_, _, calls := srv.snapshot()
	assert.Equal(t, 1, calls)
	warned := logs.FilterMessage("Partial success response").All()
	require.Len(t, warned, 1)
	fields := warned[0].ContextMap()
	assert.Equal(t, int64(3), fields["dropped_log_records"])
	assert.Equal(t, "some records were rejected", fields["message"])
}

func TestPartialSuccessTraces(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(int) (int64, error) { return 2, nil })
	core, logs := observer.New(zapcore.WarnLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateTraces(context.Background(), set, testConfig(srv.addr))
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, exp.ConsumeTraces(context.Background(), sampleTraces(4)))
	require.NoError(t, exp.Shutdown(context.Background()))

	warned := logs.FilterMessage("Partial success response").All()
	require.Len(t, warned, 1)
	assert.Equal(t, int64(2), warned[0].ContextMap()["dropped_spans"])
}

func TestClassifyError(t *testing.T) {
	throttled, err := status.New(codes.ResourceExhausted, "x").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	require.NoError(t, err)
	tests := []struct {
		name      string
		in        error
		permanent bool
		throttle  bool
	}{
		{name: "unavailable", in: status.Error(codes.Unavailable, "x")},
		{name: "deadline", in: status.Error(codes.DeadlineExceeded, "x")},
		{name: "aborted", in: status.Error(codes.Aborted, "x")},
		{name: "canceled", in: status.Error(codes.Canceled, "x")},
		{name: "out of range", in: status.Error(codes.OutOfRange, "x")},
		{name: "data loss", in: status.Error(codes.DataLoss, "x")},
		{name: "throttled", in: throttled.Err(), throttle: true},
		{name: "exhausted without info", in: status.Error(codes.ResourceExhausted, "x"), permanent: true},
		{name: "invalid", in: status.Error(codes.InvalidArgument, "x"), permanent: true},
		{name: "unauthenticated", in: status.Error(codes.Unauthenticated, "x"), permanent: true},
		{name: "unimplemented", in: status.Error(codes.Unimplemented, "x"), permanent: true},
		{name: "not a status", in: errors.New("boom"), permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyError(tt.in)
			require.Error(t, got)
			assert.Equal(t, tt.permanent, consumererror.IsPermanent(got))
			if tt.throttle {
				assert.Equal(t, "Throttle (3s), error: "+tt.in.Error(), got.Error())
			} else {
				assert.ErrorIs(t, got, tt.in)
			}
		})
	}
	assert.NoError(t, classifyError(status.Error(codes.OK, "")))
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	cfg := testConfig("127.0.0.1:1")
	logs, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, logs.Shutdown(context.Background()))

	traces, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, traces.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, traces.Shutdown(context.Background()))
	require.NoError(t, traces.Shutdown(context.Background()))
}

func TestUnreachableServerIsRetryable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())

	cfg := testConfig(addr)
	cfg.RetryConfig.Enabled = false
	consume := startLogs(t, cfg, nil)
	err = consume(context.Background(), sampleLogs(1))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "a down gateway must not drop data: %v", err)
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
}

// A request in the other compression form is refused as permanent, never sent mislabelled.
func TestRequestInTheOtherFormIsRefused(t *testing.T) {
	for _, framed := range []bool{false, true} {
		cfg := testConfig("127.0.0.1:1")
		if !framed {
			cfg.ClientConfig.Compression = configcompression.TypeGzip
		}
		f, err := newForwarder(cfg, exportertest.NewNopSettings(metadata.Type))
		require.NoError(t, err)
		require.Equal(t, framed, f.framed)
		req, err := requestEncoder{framed: !framed}.logsToRequest(context.Background(), sampleLogs(1))
		require.NoError(t, err)
		err = f.push(context.Background(), req)
		require.ErrorIs(t, err, errRequestForm)
		assert.True(t, consumererror.IsPermanent(err))
	}
}
