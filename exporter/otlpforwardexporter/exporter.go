package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/internal/snappyframe"
)

// Full gRPC method names of the OTLP collector services.
const (
	logsExportMethod   = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
	tracesExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
)

var (
	errNotStarted  = errors.New("otlp_forward exporter not started")
	errRequestForm = errors.New("otlp_forward: request not in the connection's compression form")
)

// forwarder owns the gRPC connection and sends encoded requests over it.
type forwarder struct {
	cfg       *Config
	telemetry component.TelemetrySettings
	userAgent string

	// tel counts the records a server rejected in partial success responses.
	tel *metadata.TelemetryBuilder

	conn     *grpc.ClientConn
	callOpts []grpc.CallOption
	// framed: requests are compressed with snappy when encoded (see requestEncoder) and
	// the connection sends them as they are.
	framed bool
}

func newForwarder(cfg *Config, set exporter.Settings) (*forwarder, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("otlp_forward telemetry: %w", err)
	}
	return &forwarder{
		cfg:       cfg,
		telemetry: set.TelemetrySettings,
		tel:       tel,
		userAgent: fmt.Sprintf("%s/%s (%s/%s)", set.BuildInfo.Description, set.BuildInfo.Version, runtime.GOOS, runtime.GOARCH),
		framed:    cfg.ClientConfig.Compression == configcompression.TypeSnappy,
	}, nil
}

// framedSnappy is the compressor of a connection whose requests are already snappy framed
// streams: it names the encoding ("snappy", as configgrpc's compressor does) and copies
// the bytes.
type framedSnappy struct{}

func (framedSnappy) Do(w io.Writer, p []byte) error {
	_, err := w.Write(p)
	return err
}

func (framedSnappy) Type() string { return "snappy" }

// receiveWindow is the client's flow-control window for what the gateway sends: gRPC's
// default initial window, the smallest it accepts.
const receiveWindow = 64 << 10

// start dials lazily (gRPC connects in the background), so it does not block. Headers,
// compression, TLS, keepalive and auth all come from configgrpc.
func (f *forwarder) start(ctx context.Context, host component.Host) error {
	client := f.cfg.ClientConfig
	opts := []configgrpc.ToClientConnOption{
		configgrpc.WithGrpcDialOption(grpc.WithUserAgent(f.userAgent)),
		// What the gateway sends back is a few bytes of response per request. A fixed
		// receive window (gRPC's default size) turns off the client's bandwidth-delay
		// estimator, which otherwise pings the gateway after every response: one write
		// and one wake-up for the ping's reply per request, for nothing.
		configgrpc.WithGrpcDialOption(grpc.WithInitialWindowSize(receiveWindow)),
		configgrpc.WithGrpcDialOption(grpc.WithInitialConnWindowSize(receiveWindow)),
	}
	if f.framed {
		// The requests are compressed already: gRPC must not compress them again, only
		// label them. Only the pre-1.0 Compressor API (supported throughout gRPC 1.x) sends
		// bytes under an encoding name without running them through a compressor.
		client.Compression = ""
		opts = append(opts, configgrpc.WithGrpcDialOption(grpc.WithCompressor(framedSnappy{}))) //nolint:staticcheck // see above
	}
	conn, err := client.ToClientConn(ctx, host.GetExtensions(), f.telemetry, opts...)
	if err != nil {
		return fmt.Errorf("otlp_forward: create gRPC client for %q: %w", f.cfg.ClientConfig.Endpoint, err)
	}
	f.conn = conn
	f.callOpts = []grpc.CallOption{
		grpc.WaitForReady(f.cfg.ClientConfig.WaitForReady),
		grpc.ForceCodecV2(passThroughCodec{}),
	}
	return nil
}

// shutdown is called by exporterhelper after the queue drained; safe without start.
func (f *forwarder) shutdown(context.Context) error {
	f.tel.Shutdown()
	if f.conn == nil {
		return nil
	}
	err := f.conn.Close()
	f.conn = nil
	if err != nil {
		return fmt.Errorf("otlp_forward: close gRPC connection: %w", err)
	}
	return nil
}

// push sends one encoded request, in parts when it is larger than max_request_bytes or
// the server refuses it as too large. Parts already sent are not sent again when the
// retry sender calls push again with the same request (it does so sequentially).
func (f *forwarder) push(ctx context.Context, req xexporterhelper.Request) error {
	r, ok := req.(*encodedRequest)
	if !ok {
		return consumererror.NewPermanent(fmt.Errorf("otlp_forward: unexpected request type %T", req))
	}
	if r.unreadable != nil {
		f.telemetry.Logger.Error("otlp_forward: dropping an unreadable persistent queue item",
			zap.Int("records", r.records), zap.Int("item_bytes", len(r.item)), zap.Error(r.unreadable))
		return consumererror.NewPermanent(fmt.Errorf("otlp_forward: unreadable queue item: %w", r.unreadable))
	}
	// The encoder and the queue both hand out requests in the connection's form.
	if r.framed != f.framed {
		return consumererror.NewPermanent(errRequestForm)
	}
	if f.conn == nil {
		return errNotStarted
	}
	if r.parts == nil {
		limit := f.cfg.MaxRequestBytes
		if r.bodyLen <= limit {
			err := f.export(ctx, r.signal, r.body)
			if !isTooLarge(err) {
				return classifyError(err)
			}
			limit = r.bodyLen / 2
			f.telemetry.Logger.Warn("the server refused a request as too large; sending it in parts. Set max_request_bytes to the server's receive limit.",
				zap.Int("request_bytes", r.bodyLen), zap.Int("max_request_bytes", f.cfg.MaxRequestBytes), zap.Error(err))
		}
		if err := r.split(limit); err != nil {
			return consumererror.NewPermanent(err)
		}
	}
	for len(r.parts) > 0 {
		part := r.parts[0]
		body := part
		if f.framed {
			body = snappyframe.Append(nil, part)
		}
		err := f.export(ctx, r.signal, body)
		if isTooLarge(err) {
			if halves, splitErr := otlpwire.SplitRequest(part, len(part)/2); splitErr == nil && len(halves) > 1 {
				r.parts = slices.Replace(r.parts, 0, 1, halves...)
				continue
			}
			// One record the server refuses on its own: no retry can deliver it.
			r.refused++
			r.parts = r.parts[1:]
			f.telemetry.Logger.Error("the server refused a record larger than it accepts; it is dropped, the request's other records are sent",
				zap.Int("record_request_bytes", len(part)), zap.Error(err))
			continue
		}
		if err != nil {
			return classifyError(err)
		}
		r.parts = r.parts[1:]
	}
	if r.refused > 0 {
		// exporterhelper counts the whole request as failed; the log above names the records.
		return consumererror.NewPermanent(fmt.Errorf("otlp_forward: %d of the request's %d records refused by the server as too large; the others were delivered", r.refused, r.records))
	}
	return nil
}

// export makes one Export call with body, in the connection's form, and logs a partial
// success. It returns the call's error as gRPC gave it.
func (f *forwarder) export(ctx context.Context, signal queueitem.Signal, body []byte) error {
	switch signal {
	case queueitem.SignalLogs:
		resp := plogotlp.NewExportResponse()
		if err := f.conn.Invoke(ctx, logsExportMethod, preEncoded(body), &resp, f.callOpts...); err != nil {
			return err
		}
		if ps := resp.PartialSuccess(); ps.ErrorMessage() != "" || ps.RejectedLogRecords() != 0 {
			f.warnPartialSuccess(ps.ErrorMessage(), "dropped_log_records", ps.RejectedLogRecords())
			if n := ps.RejectedLogRecords(); n > 0 {
				f.tel.OtlpForwardRejectedLogRecords.Add(ctx, n)
			}
		}
	case queueitem.SignalTraces:
		resp := ptraceotlp.NewExportResponse()
		if err := f.conn.Invoke(ctx, tracesExportMethod, preEncoded(body), &resp, f.callOpts...); err != nil {
			return err
		}
		if ps := resp.PartialSuccess(); ps.ErrorMessage() != "" || ps.RejectedSpans() != 0 {
			f.warnPartialSuccess(ps.ErrorMessage(), "dropped_spans", ps.RejectedSpans())
			if n := ps.RejectedSpans(); n > 0 {
				f.tel.OtlpForwardRejectedSpans.Add(ctx, n)
			}
		}
	default:
		return consumererror.NewPermanent(fmt.Errorf("otlp_forward: request of unknown signal %s", signal))
	}
	return nil
}

// isTooLarge tells whether err is gRPC refusing a message over a size limit: the
// server's receive limit (before or after decompression) or the client's send limit.
// Sent again unchanged it would be refused again.
func isTooLarge(err error) bool {
	if err == nil {
		return false
	}
	st := status.Convert(err)
	return st.Code() == codes.ResourceExhausted && retryInfoOf(st) == nil && strings.Contains(st.Message(), "larger than max")
}

// warnPartialSuccess logs what the server rejected (export also counts it in
// otelcol_otlp_forward_rejected_*). Like otlp_grpc, the request counts as sent: the server
// has decided about those records and resending would not change that.
func (f *forwarder) warnPartialSuccess(msg, countKey string, rejected int64) {
	f.telemetry.Logger.Warn("Partial success response",
		zap.String("message", msg),
		zap.Int64(countKey, rejected))
}

// classifyError maps a failed Export call to what exporterhelper understands: retryable
// codes stay plain errors (with the server's retry delay when it gave one), the rest are
// permanent. Same rules as the core otlp_grpc exporter.
func classifyError(err error) error {
	st := status.Convert(err)
	if st.Code() == codes.OK {
		return nil
	}
	retryInfo := retryInfoOf(st)
	if !isRetryable(st.Code(), retryInfo) {
		return consumererror.NewPermanent(err)
	}
	if d := retryInfo.GetRetryDelay().AsDuration(); d > 0 {
		return exporterhelper.NewThrottleRetry(err, d)
	}
	return err
}

func isRetryable(code codes.Code, retryInfo *errdetails.RetryInfo) bool {
	switch code {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss:
		return true
	case codes.ResourceExhausted:
		// Only when the server says when to come back: it expects to recover.
		return retryInfo != nil
	default:
		return false
	}
}

func retryInfoOf(st *status.Status) *errdetails.RetryInfo {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}
