package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
)

// NewFactory returns the factory of the file_tail receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		StartAt:         defaultStartAt,
		PollInterval:    defaultPollInterval,
		ScanInterval:    defaultScanInterval,
		MaxOpenFiles:    defaultMaxOpenFiles,
		FingerprintSize: defaultFingerprintSize,
		MaxRecordSize:   defaultMaxRecordSize,
		Format:          defaultFormat,
		Multiline:       MultilineConfig{FlushTimeout: defaultFlushTimeout},
		CloseInactive:   defaultCloseInactive,
		RotationWait:    defaultRotationWait,
		CommitInterval:  defaultCommitInterval,
		MaxBatchRecords: defaultMaxBatchRecords,
		MaxBatchBytes:   defaultMaxBatchBytes,
		Retry:           RetryConfig{InitialInterval: defaultRetryInitial, MaxInterval: defaultRetryMax},
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
