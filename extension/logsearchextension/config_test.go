package logsearchextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "127.0.0.1:9480"
	custom.Storage.Local.Path = "/var/lib/sluice/archive"
	custom.PathTemplate = "{signal}/dt={date}/hour={hour}"
	custom.QueryTimeout = 10 * time.Second
	custom.MaxConcurrentQueries = 2
	custom.DefaultLimit = 50
	custom.MaxLimit = 500
	custom.MaxTraceRecords = 2000
	custom.MaxHistogramBuckets = 100
	custom.HistogramDefaultRange = time.Hour
	custom.FooterCacheSize = 100
	custom.FooterConcurrency = 4
	s3cfg := createDefaultConfig().(*Config)
	s3cfg.Storage.Type = StorageS3
	s3cfg.Storage.S3 = S3Config{
		Bucket: "logs", Prefix: "sluice/archive", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000",
		ForcePathStyle: true, AccessKeyID: "minio", SecretAccessKey: "minio-secret",
	}
	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "custom", want: custom},
		{name: "bad_storage_type", wantErr: `storage.type "gcs" must be one of local, s3`},
		{name: "s3", want: s3cfg},
		{name: "s3_missing", wantErr: "storage.s3.bucket must not be empty\nstorage.s3.access_key_id and storage.s3.secret_access_key must be set together"},
		{name: "empty_path", wantErr: "storage.local.path must not be empty"},
		{name: "bad_template", wantErr: `path_template: template "{signal}/{hour}" must contain {date} or all of {year}, {month}, {day}`},
		{name: "bad_limits", wantErr: "query_timeout 0s must be positive\nmax_concurrent_queries 0 must be at least 1\ndefault_limit 2000 must be from 1 to max_limit (1000)"},
		{name: "bad_trace_records", wantErr: "max_trace_records 0 must be from 1 to 100000\nmax_histogram_buckets 0 must be from 1 to 10000\nhistogram_default_range -1s must be positive\nfooter_cache_size -1 must not be negative\nfooter_concurrency 0 must be from 1 to 256"},
		{name: "empty_endpoint", wantErr: "endpoint must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
