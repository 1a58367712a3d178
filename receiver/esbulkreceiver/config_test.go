package esbulkreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.ServerConfig.NetAddr.Endpoint = "0.0.0.0:19200"
	custom.Version = "7.17.0"
	custom.ClusterName = "logs"
	custom.RetryAfter = 30 * time.Second
	custom.ServerConfig.MaxRequestBodySize = 10485760
	custom.MaxInFlightBytes = 64 << 20
	custom.ServerConfig.ReadTimeout = 10 * time.Second
	custom.ServerConfig.IdleTimeout = 2 * time.Minute

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "custom", want: custom},
		{name: "bad_version", wantErr: `version: must be MAJOR.MINOR.PATCH such as "8.17.0", got "8.x"`},
		{name: "empty_cluster_name", wantErr: "cluster_name: must not be empty"},
		{name: "negative_retry_after", wantErr: "retry_after: must be between 0s and 1h0m0s, got -1s"},
		{name: "short_write_timeout", wantErr: "write_timeout: must be 0 (no limit) or at least 1s, got 500ms"},
		{name: "negative_in_flight", wantErr: "max_in_flight_bytes: must be 0 (no limit) or a positive number of bytes, got -1"},
		{name: "negative_body_size", wantErr: "max_request_body_size: must be 0 (collector default) or a positive number of bytes, got -1"},
	}
	for _, tt := range tests {
		t.Run("es_bulk/"+tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.Validate()
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, DefaultEndpoint, cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, int64(DefaultMaxRequestBodySize), cfg.ServerConfig.MaxRequestBodySize)
	assert.Equal(t, int64(DefaultMaxInFlightBytes), cfg.MaxInFlightBytes)
	assert.GreaterOrEqual(t, cfg.MaxInFlightBytes, cfg.ServerConfig.MaxRequestBodySize)
	assert.Equal(t, "8", cfg.majorVersion())
}
