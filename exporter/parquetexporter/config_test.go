package parquetexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := createDefaultConfig().(*Config)
	full.WriterID = "gw-1"
	full.PathTemplate = "archive/{signal}/dt={date}/hour={hour}/service={service}"
	full.PromotedAttributes = []PromotedAttribute{
		{Key: "http.response.status_code", Type: "int"},
		{Key: "host.name", Source: "resource", Column: "host"},
	}
	full.Traces = TracesConfig{
		PathTemplate: "archive/{signal}/dt={date}/service={service}",
		PromotedAttributes: []PromotedAttribute{
			{Key: "http.route"},
			{Key: "k8s.namespace.name", Source: "resource", Column: "namespace"},
		},
	}
	full.Storage.Type = StorageS3
	full.Storage.S3 = S3Config{
		Bucket: "logs", Prefix: "otel", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000",
		ForcePathStyle: true, AccessKeyID: "minio", SecretAccessKey: "minio-secret",
		MultipartThreshold: 32 << 20, PartSize: 8 << 20, ConditionalWrites: false, MaxAttempts: 3,
	}
	full.Staging = StagingConfig{Directory: "/var/lib/sluice/staging", Fsync: false, MaxSize: 2 << 30}
	full.Roll = RollConfig{MaxRows: 500000, MaxBytes: 32 << 20, MaxAge: 2 * time.Minute, MaxOpenFiles: 16, CheckInterval: 5 * time.Second}
	full.Parquet = ParquetConfig{
		CompressionLevel: 6, RowGroupRows: 65536, DataPageSize: 128 << 10, PageIndex: false, MapDictionary: false,
		BloomFilter: BloomFilterConfig{Enabled: true, NDV: 50000, FPP: 0.05},
	}
	full.UploadRetry = UploadRetryConfig{InitialInterval: 2 * time.Second, MaxInterval: 30 * time.Second}
	full.Timeout = 10 * time.Second

	retention := createDefaultConfig().(*Config)
	retention.Retention = RetentionConfig{MaxAge: 720 * time.Hour, CheckInterval: 30 * time.Minute}

	distinct := createDefaultConfig().(*Config)
	distinct.PathTemplate = "app-logs/dt={date}/hour={hour}"
	distinct.Traces.PathTemplate = "app-spans/dt={date}/hour={hour}"

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "full", want: full},
		{name: "retention", want: retention},
		{name: "bad_storage_type", wantErr: `storage.type "gcs" must be one of local, s3`},
		{name: "bad_s3", wantErr: "storage.s3.bucket must not be empty\n" +
			"storage.s3.region must not be empty\n" +
			"storage.s3.access_key_id and storage.s3.secret_access_key must be set together\n" +
			"storage.s3.part_size 1024 must be >= 5242880 (5 MiB)\n" +
			"storage.s3.max_attempts 0 must be >= 1"},
		{name: "bad_template", wantErr: `path_template: template "logs/{host}/dt={date}": unknown placeholder {host} (allowed: {signal} {service} {date} {year} {month} {day} {hour})`},
		{name: "bad_promoted", wantErr: `promoted_attributes: promoted column 0 (a): type "uint" must be one of string, int, double, bool`},
		{name: "bad_roll", wantErr: "staging.directory must not be empty\n" +
			"roll.max_rows 0 must be > 0\n" +
			"roll.max_bytes 1000 must not exceed staging.max_size 100\n" +
			"roll.max_age 0s must be > 0\n" +
			"roll.max_open_files 0 must be > 0\n" +
			"roll.check_interval 1ms must be >= 10ms"},
		{name: "roll_max_bytes_too_large", wantErr: "roll.max_bytes 2147483648 must be <= 1073741824 (1 GiB)"},
		{name: "bad_parquet", wantErr: "parquet.compression_level 23 must be between 1 and 22\n" +
			"parquet.row_group_rows 0 must be between 1 and 67108864\n" +
			"parquet.data_page_size 10 must be between 4096 and 67108864\n" +
			"parquet.bloom_filter.ndv 0 must be between 1 and 1073741824\n" +
			"parquet.bloom_filter.fpp 1.5 must be > 0 and < 1"},
		{name: "bad_retention", wantErr: "retention.max_age is only supported with storage.type local; use a bucket lifecycle rule for s3\n" +
			"retention.check_interval 0s must be > 0\n" +
			"upload_retry.initial_interval 0s must be > 0\n" +
			"upload_retry.max_interval -1s must be >= upload_retry.initial_interval 0s"},
		{name: "bad_traces_template", wantErr: `traces.path_template: template "spans/{service}" must contain {date} or all of {year}, {month}, {day}`},
		{name: "traces_overlap", wantErr: `traces.path_template "dt={date}/hour={hour}" yields the same partition paths as path_template "dt={date}/hour={hour}"; include {signal} in both or give them different literal prefixes`},
		{name: "traces_overlap_signal_literal", wantErr: `traces.path_template "logs/dt={date}" yields the same partition paths as path_template "{signal}/dt={date}"; include {signal} in both or give them different literal prefixes`},
		{name: "traces_distinct_prefixes", want: distinct},
		{name: "bad_traces_promoted", wantErr: `traces.promoted_attributes: promoted column 0: column "kind" is a fixed archive column`},
		{name: "bad_writer", wantErr: `writer_id: writer id "../etc" must match ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`},
	}
	for _, tt := range tests {
		t.Run("parquet/"+tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
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

func TestColumnNameForKey(t *testing.T) {
	assert.Equal(t, "http_response_status_code", columnNameForKey("http.response.status_code"))
	assert.Equal(t, "_1st_key", columnNameForKey("1st-Key"))
}
