package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
)

// NewFactory returns the factory of the otlp_forward exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

// createDefaultConfig mirrors the core otlp_grpc exporter's defaults.
func createDefaultConfig() component.Config {
	client := configgrpc.NewDefaultClientConfig()
	client.Compression = configcompression.TypeGzip
	client.WriteBufferSize = defaultWriteBufferSize
	client.Keepalive = configoptional.None[configgrpc.KeepaliveClientConfig]()

	return &Config{
		TimeoutConfig:   exporterhelper.NewDefaultTimeoutConfig(),
		RetryConfig:     configretry.NewDefaultBackOffConfig(),
		QueueConfig:     configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		MaxRequestBytes: defaultMaxRequestBytes,
		ClientConfig:    client,
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	f, err := newForwarder(c, set)
	if err != nil {
		return nil, err
	}
	exp, err := xexporterhelper.NewLogsRequest(ctx, set, requestEncoder{framed: f.framed}.logsToRequest, f.push,
		exporterOptions(c, f, queueitem.SignalLogs)...)
	if err != nil {
		return nil, err
	}
	return &logsExporter{Logs: exp}, nil
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	f, err := newForwarder(c, set)
	if err != nil {
		return nil, err
	}
	exp, err := xexporterhelper.NewTracesRequest(ctx, set, requestEncoder{framed: f.framed}.tracesToRequest, f.push,
		exporterOptions(c, f, queueitem.SignalTraces)...)
	if err != nil {
		return nil, err
	}
	return &tracesExporter{Traces: exp}, nil
}

func exporterOptions(c *Config, f *forwarder, signal queueitem.Signal) []exporterhelper.Option {
	return []exporterhelper.Option{
		// The request is encoded in the converter, before the pipeline continues.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		xexporterhelper.WithQueueBatch(c.QueueConfig, queueBatchSettings(signal, f.framed)),
		exporterhelper.WithStart(f.start),
		exporterhelper.WithShutdown(f.shutdown),
	}
}

// onceShutdown makes Shutdown idempotent: exporterhelper's own Shutdown may run only once.
type onceShutdown struct {
	once sync.Once
	err  error
}

func (o *onceShutdown) shutdown(ctx context.Context, c component.Component) error {
	o.once.Do(func() { o.err = c.Shutdown(ctx) })
	return o.err
}

type logsExporter struct {
	exporter.Logs
	onceShutdown
}

func (e *logsExporter) Shutdown(ctx context.Context) error { return e.shutdown(ctx, e.Logs) }

type tracesExporter struct {
	exporter.Traces
	onceShutdown
}

func (e *tracesExporter) Shutdown(ctx context.Context) error { return e.shutdown(ctx, e.Traces) }
