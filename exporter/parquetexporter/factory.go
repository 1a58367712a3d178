package parquetexporter

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// NewFactory returns the parquet exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.NumConsumers = defaultQueueNumConsumers
	// A record is acknowledged only once it is in an fsynced journal; the
	// queue still batches (8192 records / 200 ms) to amortize the fsync.
	queue.WaitForResult = true
	return &Config{
		PathTemplate: logarchive.DefaultTemplate,
		Traces:       TracesConfig{PathTemplate: logarchive.DefaultTemplate},
		Storage: StorageConfig{
			Type:  defaultStorageType,
			Local: LocalConfig{Path: defaultLocalPath},
			S3: S3Config{
				Region:             defaultS3Region,
				MultipartThreshold: defaultMultipartThreshold,
				PartSize:           defaultPartSize,
				ConditionalWrites:  true,
				MaxAttempts:        defaultS3MaxAttempts,
			},
		},
		Staging: StagingConfig{Directory: defaultStagingDirectory, Fsync: true, MaxSize: defaultStagingMaxSize},
		Roll: RollConfig{
			MaxRows: defaultRollMaxRows, MaxBytes: defaultRollMaxBytes, MaxAge: defaultRollMaxAge,
			MaxOpenFiles: defaultRollMaxOpen, CheckInterval: defaultRollCheckInterval,
		},
		Parquet: ParquetConfig{
			CompressionLevel: defaultCompressionLevel,
			RowGroupRows:     defaultRowGroupRows,
			DataPageSize:     defaultDataPageSize,
			PageIndex:        true,
			BloomFilter:      BloomFilterConfig{Enabled: true, NDV: defaultBloomNDV, FPP: defaultBloomFPP},
			MapDictionary:    true,
		},
		Retention:     RetentionConfig{CheckInterval: defaultRetentionInterval},
		UploadRetry:   UploadRetryConfig{InitialInterval: defaultUploadRetryInitial, MaxInterval: defaultUploadRetryMax},
		TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: defaultTimeout},
		QueueConfig:   configoptional.Some(queue),
		RetryConfig:   configretry.NewDefaultBackOffConfig(),
	}
}

// newSignalExporter checks cfg and builds the exporter of one signal with
// the exporterhelper options both signals share.
func newSignalExporter(set exporter.Settings, cfg component.Config, signal string) (*parquetExporter, []exporterhelper.Option, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, nil, fmt.Errorf("parquet exporter: unexpected config type %T", cfg)
	}
	exp, err := newExporter(c, set, signal, nil)
	if err != nil {
		return nil, nil, err
	}
	return exp, []exporterhelper.Option{
		exporterhelper.WithStart(exp.start),
		exporterhelper.WithShutdown(exp.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		exporterhelper.WithQueue(c.QueueConfig),
	}, nil
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	exp, opts, err := newSignalExporter(set, cfg, logarchive.SignalLogs)
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewLogs(ctx, set, cfg, exp.pushLogs, opts...)
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	exp, opts, err := newSignalExporter(set, cfg, logarchive.SignalTraces)
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewTraces(ctx, set, cfg, exp.pushTraces, opts...)
}
