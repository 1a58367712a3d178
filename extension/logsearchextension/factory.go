package logsearchextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadata"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// NewFactory returns the log_search extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig: server,
		Storage: StorageConfig{
			Type:  defaultStorageType,
			Local: LocalConfig{Path: defaultLocalPath},
			S3:    S3Config{Region: defaultS3Region},
		},
		PathTemplate:          logarchive.DefaultTemplate,
		QueryTimeout:          defaultQueryTimeout,
		MaxConcurrentQueries:  defaultMaxConcurrentQueries,
		DefaultLimit:          defaultLimit,
		MaxLimit:              defaultMaxLimit,
		MaxTraceRecords:       defaultMaxTraceRecords,
		MaxHistogramBuckets:   defaultMaxHistogramBuckets,
		HistogramDefaultRange: defaultHistogramRange,
		FooterCacheSize:       defaultFooterCacheSize,
		FooterConcurrency:     defaultFooterConcurrency,
	}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newLogSearch(cfg.(*Config), set)
}
