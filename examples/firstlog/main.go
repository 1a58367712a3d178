// Command firstlog sends one log record and one span to a running Sluice over OTLP/HTTP, through the
// OpenTelemetry Go SDK and its slog bridge, the way an instrumented service does.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/firstlog
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "firstlog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		// The SDK's default is localhost:4318, which is also where `make run` listens.
		if err := os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"); err != nil {
			return err
		}
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("checkout"))

	logExp, err := otlploghttp.New(ctx)
	if err != nil {
		return fmt.Errorf("log exporter: %w", err)
	}
	logs := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)))

	traceExp, err := otlptracehttp.New(ctx)
	if err != nil {
		return fmt.Errorf("trace exporter: %w", err)
	}
	traces := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(traceExp))

	logger := slog.New(otelslog.NewHandler("firstlog", otelslog.WithLoggerProvider(logs)))
	ctx, span := traces.Tracer("firstlog").Start(ctx, "POST /checkout")
	// The log record carries the span's trace and span id, so the request can be followed end to end.
	logger.ErrorContext(ctx, "payment declined", "order_id", 42, "correlation_id", "req-7f3a")
	span.End()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := traces.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	if err := logs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("flush logs: %w", err)
	}
	fmt.Println("sent 1 log record and 1 span; trace id", span.SpanContext().TraceID())
	return nil
}
