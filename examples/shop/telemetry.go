package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// OTLP protocols, spelled as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	protocolGRPC = "grpc"
	protocolHTTP = "http/protobuf"

	// The Sluice agent's (and `make run`'s) OTLP receivers.
	defaultGRPCEndpoint = "http://127.0.0.1:4317"
	defaultHTTPEndpoint = "http://127.0.0.1:4318"
)

// correlationKey names the per-request id the gateway creates: a W3C baggage member between the
// services, and an attribute on every span and log record (the tail sampler groups by it).
const correlationKey = "correlation_id"

// Export says where and how every service sends its spans and logs.
type Export struct {
	// Endpoint is the OTLP base URL (scheme http:// for plaintext, https:// for TLS); empty means the
	// agent's default for Protocol.
	Endpoint string
	// Protocol is "grpc" or "http/protobuf".
	Protocol string
}

func (e Export) withDefaults() Export {
	if e.Protocol == "" {
		e.Protocol = protocolGRPC
	}
	if e.Endpoint == "" {
		e.Endpoint = defaultGRPCEndpoint
		if e.Protocol == protocolHTTP {
			e.Endpoint = defaultHTTPEndpoint
		}
	}
	if !strings.Contains(e.Endpoint, "://") {
		// OTEL_EXPORTER_OTLP_ENDPOINT=127.0.0.1:4317 is a common spelling; the agent listens in plaintext.
		e.Endpoint = "http://" + e.Endpoint
	}
	e.Endpoint = strings.TrimSuffix(e.Endpoint, "/")
	return e
}

// Validate reports an unusable protocol or endpoint, named by its command-line flag.
func (e Export) Validate() error {
	e = e.withDefaults()
	if e.Protocol != protocolGRPC && e.Protocol != protocolHTTP {
		return fmt.Errorf("-otlp-protocol %q must be %s or %s", e.Protocol, protocolGRPC, protocolHTTP)
	}
	u, err := url.Parse(e.Endpoint)
	if err != nil {
		return fmt.Errorf("-otlp-endpoint %q: %w", e.Endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-otlp-endpoint %q must look like http://host:port or https://host:port", e.Endpoint)
	}
	return nil
}

// telemetry is one service's own SDK: its resource, tracer and logger providers. Each service of
// the shop has its own, even when all four run in one process, exactly as separate processes would.
type telemetry struct {
	traces *sdktrace.TracerProvider
	logs   *sdklog.LoggerProvider
	// logger writes through the slog bridge: records carry the trace context of the ctx they are
	// logged with, and the correlation id from its baggage.
	logger *slog.Logger
	// propagator carries trace context and baggage (the correlation id) across HTTP calls.
	propagator propagation.TextMapPropagator
	endpoint   string
}

func newTelemetry(ctx context.Context, service, environment string, exp Export) (*telemetry, error) {
	exp = exp.withDefaults()
	res, err := serviceResource(service, environment)
	if err != nil {
		return nil, err
	}
	spanExp, logExp, err := newExporters(ctx, exp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	traces := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(correlationSpans{}),
		sdktrace.WithBatcher(spanExp),
	)
	logs := sdklog.NewLoggerProvider(
		sdklog.WithResource(res),
		// Registered first: the batch processor then exports the record with the attribute added.
		sdklog.WithProcessor(correlationLogs{}),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)),
	)
	return &telemetry{
		traces: traces,
		logs:   logs,
		logger: slog.New(otelslog.NewHandler("shop/"+service, otelslog.WithLoggerProvider(logs))),
		propagator: propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}),
		endpoint: exp.Endpoint,
	}, nil
}

// shutdown flushes and stops both providers; it keeps going after an error so nothing is left unflushed.
func (t *telemetry) shutdown(ctx context.Context) error {
	spanErr := t.traces.Shutdown(ctx)
	logErr := t.logs.Shutdown(ctx)
	if spanErr == nil && logErr == nil {
		return nil
	}
	return fmt.Errorf("flush to %s (is the agent running?): %w", t.endpoint, errors.Join(spanErr, logErr))
}

func serviceResource(service, environment string) (*resource.Resource, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("service instance id: %w", err)
	}
	return resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName("shop-"+service),
		semconv.ServiceNamespace("shop"),
		semconv.ServiceVersion("1.4.2"),
		semconv.ServiceInstanceID(hex.EncodeToString(id[:])),
		semconv.DeploymentEnvironment(environment),
	), nil
}

func newExporters(ctx context.Context, exp Export) (sdktrace.SpanExporter, sdklog.Exporter, error) {
	// Explicit options win over the OTEL_EXPORTER_OTLP_* variables, which the exporters still read for
	// everything else (headers, certificates, timeouts, compression).
	if exp.Protocol == protocolHTTP {
		spans, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(exp.Endpoint+"/v1/traces"))
		if err != nil {
			return nil, nil, fmt.Errorf("OTLP/HTTP span exporter: %w", err)
		}
		logs, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(exp.Endpoint+"/v1/logs"))
		if err != nil {
			return nil, nil, errors.Join(fmt.Errorf("OTLP/HTTP log exporter: %w", err), spans.Shutdown(ctx))
		}
		return spans, logs, nil
	}
	spans, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(exp.Endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP/gRPC span exporter: %w", err)
	}
	logs, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpointURL(exp.Endpoint))
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("OTLP/gRPC log exporter: %w", err), spans.Shutdown(ctx))
	}
	return spans, logs, nil
}

// correlationFrom returns the request's correlation id, carried as baggage.
func correlationFrom(ctx context.Context) string {
	return baggage.FromContext(ctx).Member(correlationKey).Value()
}

// withCorrelation returns ctx carrying id as the only baggage member: the gateway is the edge, so
// whatever baggage a client sent is not trusted or forwarded.
func withCorrelation(ctx context.Context, id string) (context.Context, error) {
	m, err := baggage.NewMemberRaw(correlationKey, id)
	if err != nil {
		return ctx, fmt.Errorf("correlation id baggage: %w", err)
	}
	b, err := baggage.New(m)
	if err != nil {
		return ctx, fmt.Errorf("correlation id baggage: %w", err)
	}
	return baggage.ContextWithBaggage(ctx, b), nil
}

// correlationSpans copies the correlation id from the baggage onto every span at its start, so
// client spans and downstream server spans carry it without code at each call site.
type correlationSpans struct{}

func (correlationSpans) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	if id := correlationFrom(ctx); id != "" {
		s.SetAttributes(attribute.String(correlationKey, id))
	}
}
func (correlationSpans) OnEnd(sdktrace.ReadOnlySpan)      {}
func (correlationSpans) Shutdown(context.Context) error   { return nil }
func (correlationSpans) ForceFlush(context.Context) error { return nil }

// correlationLogs does the same for log records: every line logged with a request's context has
// the request's correlation_id attribute, whichever logging API emitted it.
type correlationLogs struct{}

func (correlationLogs) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (correlationLogs) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if id := correlationFrom(ctx); id != "" {
		r.AddAttributes(otellog.String(correlationKey, id))
	}
	return nil
}
func (correlationLogs) Shutdown(context.Context) error   { return nil }
func (correlationLogs) ForceFlush(context.Context) error { return nil }
