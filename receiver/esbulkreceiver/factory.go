package esbulkreceiver

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

// NewFactory returns the es_bulk receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = DefaultEndpoint
	server.MaxRequestBodySize = DefaultMaxRequestBodySize
	server.ReadTimeout = DefaultReadTimeout
	return &Config{
		ServerConfig: server,
		Version:      DefaultVersion,
		ClusterName:  DefaultClusterName,
		RetryAfter:   DefaultRetryAfter,

		MaxInFlightBytes: DefaultMaxInFlightBytes,
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(cfg.(*Config), set, next)
}
