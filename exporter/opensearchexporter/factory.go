package opensearchexporter

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
)

// NewFactory creates the factory of the opensearch exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func helperOptions(cfg *Config, e *osExporter) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// Each _bulk request is bounded by the HTTP client timeout instead: one
		// push may send several requests.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(cfg.RetryConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
	}
}

func createLogs(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Logs, error) {
	cfg := c.(*Config)
	e, err := newExporter(cfg, set, signalLogs)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, helperOptions(cfg, e)...)
	if err != nil {
		return nil, err
	}
	return logsExporter{exp, e}, nil
}

func createTraces(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Traces, error) {
	cfg := c.(*Config)
	e, err := newExporter(cfg, set, signalTraces)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, helperOptions(cfg, e)...)
	if err != nil {
		return nil, err
	}
	return tracesExporter{exp, e}, nil
}

// logsExporter and tracesExporter tell the exporter that shutdown begins
// before exporterhelper drains its queue (exporterhelper runs WithShutdown
// only after the drain).
type logsExporter struct {
	exporter.Logs
	e *osExporter
}

func (x logsExporter) Shutdown(ctx context.Context) error {
	x.e.beginShutdown()
	return x.Logs.Shutdown(ctx)
}

type tracesExporter struct {
	exporter.Traces
	e *osExporter
}

func (x tracesExporter) Shutdown(ctx context.Context) error {
	x.e.beginShutdown()
	return x.Traces.Shutdown(ctx)
}
