package otlpforwardexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
)

func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name    string
		check   func(t *testing.T, cfg *Config)
		wantErr string
	}{
		{name: "", check: func(t *testing.T, cfg *Config) {
			want := createDefaultConfig().(*Config)
			want.ClientConfig.Endpoint = "gateway:4317"
			assert.Equal(t, want, cfg)
			// The core otlp_grpc exporter's defaults.
			assert.Equal(t, configcompression.TypeGzip, cfg.ClientConfig.Compression)
			assert.Equal(t, 5*time.Second, cfg.TimeoutConfig.Timeout)
			assert.True(t, cfg.RetryConfig.Enabled)
			require.True(t, cfg.QueueConfig.HasValue())
			assert.False(t, cfg.QueueConfig.Get().Batch.HasValue())
			assert.Equal(t, 4<<20, cfg.MaxRequestBytes)
		}},
		{name: "full", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, "gateway.example.com:4317", cfg.ClientConfig.Endpoint)
			assert.Equal(t, configcompression.TypeSnappy, cfg.ClientConfig.Compression)
			assert.Equal(t, 10*time.Second, cfg.TimeoutConfig.Timeout)
			assert.True(t, cfg.ClientConfig.TLS.Insecure)
			v, ok := cfg.ClientConfig.Headers.Get("x-tenant")
			assert.True(t, ok)
			assert.Equal(t, "acme", string(v))
			require.True(t, cfg.ClientConfig.Keepalive.HasValue())
			assert.Equal(t, 30*time.Second, cfg.ClientConfig.Keepalive.Get().Time)
			require.True(t, cfg.QueueConfig.HasValue())
			q := cfg.QueueConfig.Get()
			assert.Equal(t, "file_storage/state", q.StorageID.String())
			assert.Equal(t, int64(10000), q.QueueSize)
			assert.Equal(t, exporterhelper.RequestSizerTypeItems, q.Sizer)
			assert.Equal(t, 4, q.NumConsumers)
			assert.Equal(t, time.Duration(0), cfg.RetryConfig.MaxElapsedTime)
		}},
		{name: "no_queue", check: func(t *testing.T, cfg *Config) {
			assert.False(t, cfg.QueueConfig.HasValue())
		}},
		{name: "no_endpoint", wantErr: `endpoint: must be set, e.g. "gateway:4317"`},
		{name: "batch", wantErr: "sending_queue.batch: not supported by otlp_forward (requests are forwarded as encoded); remove it and batch before the exporter if needed"},
		{name: "lz4", wantErr: `compression: "lz4" is not supported over gRPC; use none, gzip, snappy or zstd`},
		{name: "small_request", wantErr: "max_request_bytes: must be at least 1024, got 100"},
		{name: "no_endpoint_and_batch", wantErr: `endpoint: must be set, e.g. "gateway:4317"` + "\n" +
			"sending_queue.batch: not supported by otlp_forward (requests are forwarded as encoded); remove it and batch before the exporter if needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, cfg.(*Config).Validate().Error())
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg.(*Config))
		})
	}
}
