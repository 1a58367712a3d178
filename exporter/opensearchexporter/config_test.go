package opensearchexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
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
			want.ClientConfig.Endpoint = "http://127.0.0.1:9200"
			assert.Equal(t, want, cfg)
		}},
		{name: "full", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, "logs-{service.name}-{yyyy.MM.dd}", cfg.LogsIndex)
			assert.Equal(t, "none", cfg.IndexMissingValue)
			assert.Equal(t, DocumentIDConfig{Mode: IDModeAttribute, Attribute: "log.record.uid"}, cfg.DocumentID)
			assert.Equal(t, BulkConfig{MaxBytes: 1_000_000, MaxDocuments: 500}, cfg.Bulk)
			assert.Equal(t, DeadLetterConfig{Index: "dlq-{yyyy.MM.dd}", File: "/var/lib/sluice/dlq.ndjson"}, cfg.DeadLetter)
			assert.Equal(t, IndexTemplateConfig{Enabled: true, NamePrefix: "acme", Priority: 300, Shards: 2, Replicas: 1}, cfg.IndexTemplate)
			assert.Equal(t, ISMPolicyConfig{Enabled: true, Retention: 168 * time.Hour}, cfg.ISMPolicy)
			assert.Equal(t, AWSSigV4Config{Enabled: true, Region: "eu-west-1", Service: "aoss"}, cfg.AWSSigV4)
			assert.Equal(t, 10*time.Second, cfg.ClientConfig.Timeout)
			require.True(t, cfg.QueueConfig.HasValue())
			assert.Equal(t, "file_storage", cfg.QueueConfig.Get().StorageID.String())
			assert.Equal(t, 4, cfg.QueueConfig.Get().NumConsumers)
		}},
		{name: "no_endpoint", wantErr: "endpoint: must be set, e.g. http://127.0.0.1:9200"},
		{name: "bad_endpoint", wantErr: `endpoint: "127.0.0.1:9200" must be an http:// or https:// URL with a host`},
		{name: "bad_compression", wantErr: `compression: "zstd" is not supported; allowed: none, gzip`},
		{name: "bad_index", wantErr: `logs_index: "Logs-{yyyy.MM.dd}": character 'L' is not allowed in an index name (use a-z, 0-9, '-', '_', '.', '+')`},
		{name: "unclosed_placeholder", wantErr: `traces_index: "traces-{service.name": unclosed '{' at byte 7`},
		{name: "bad_id_mode", wantErr: `document_id.mode: "random" is not valid; allowed: content_hash, attribute, none`},
		{name: "no_id_attribute", wantErr: "document_id.attribute: must be set when document_id.mode is attribute"},
		{name: "bad_bulk", wantErr: "bulk.max_bytes: 0 must be between 1 and 100000000\nbulk.max_documents: -1 must be positive"},
		{name: "no_dead_letter", wantErr: "dead_letter: set index, file or both; rejected documents are never dropped"},
		{name: "bad_retention", wantErr: "ism_policy.retention: 10s must be at least 1m"},
		{name: "bad_template", wantErr: `index_template.name_prefix: "a/b" must be non-empty without '/', '?', '#', '*' or spaces` + "\nindex_template.replicas: must be -1 (cluster default) or at least 0"},
		{name: "bad_sigv4", wantErr: "aws_sigv4.region: must be set when aws_sigv4.enabled is true\n" + `aws_sigv4.service: "s3" is not valid; allowed: es, aoss`},
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
