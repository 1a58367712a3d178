package opensearchexporter // import "github.com/sluicelogs/sluice/exporter/opensearchexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/indexname"
)

// Defaults.
const (
	DefaultLogsIndex         = "ss4o_logs-default-{yyyy.MM.dd}"
	DefaultTracesIndex       = "ss4o_traces-default-{yyyy.MM.dd}"
	DefaultDeadLetterIndex   = "sluice-dlq-{yyyy.MM.dd}"
	DefaultIndexMissingValue = "unknown"
	DefaultIDAttribute       = "log.record.uid"
	DefaultBulkMaxBytes      = 5_000_000
	DefaultBulkMaxDocuments  = 10_000
	DefaultTemplatePrefix    = "sluice"
	DefaultTemplatePriority  = 950 // above the SS4O catalog templates (900)
	DefaultISMRetention      = 30 * 24 * time.Hour
	DefaultHTTPTimeout       = 30 * time.Second
	DefaultAWSService        = "es"
	maxBulkBytes             = 100_000_000 // OpenSearch's default http.max_content_length
)

// Document id modes.
const (
	IDModeContentHash = "content_hash"
	IDModeAttribute   = "attribute"
	IDModeNone        = "none"
)

// Config is the configuration of the opensearch exporter.
type Config struct {
	// ClientConfig holds endpoint, TLS, auth (e.g. basicauth extension),
	// headers, timeout and compression (none or gzip) of the HTTP client.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// QueueConfig is the exporterhelper sending queue; set `storage` to a
	// file_storage extension for a persistent queue.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig is the exporterhelper retry policy for retryable failures.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// LogsIndex is the index name template for log documents.
	LogsIndex string `mapstructure:"logs_index"`
	// TracesIndex is the index name template for span documents.
	TracesIndex string `mapstructure:"traces_index"`
	// IndexMissingValue replaces an index name placeholder whose attribute is absent.
	IndexMissingValue string `mapstructure:"index_missing_value"`

	// DocumentID selects how document ids are derived.
	DocumentID DocumentIDConfig `mapstructure:"document_id"`
	// Bulk limits the size of one _bulk request.
	Bulk BulkConfig `mapstructure:"bulk"`
	// DeadLetter says where permanently rejected documents go.
	DeadLetter DeadLetterConfig `mapstructure:"dead_letter"`
	// IndexTemplate controls the index templates installed at start.
	IndexTemplate IndexTemplateConfig `mapstructure:"index_template"`
	// ISMPolicy controls the retention policies installed at start.
	ISMPolicy ISMPolicyConfig `mapstructure:"ism_policy"`
	// AWSSigV4 signs requests for Amazon OpenSearch Service or Serverless.
	AWSSigV4 AWSSigV4Config `mapstructure:"aws_sigv4"`
}

// DocumentIDConfig selects how document ids are derived.
type DocumentIDConfig struct {
	// Mode is content_hash (128-bit SHA-256 prefix of the encoded document),
	// attribute (the value of Attribute when the record has it, else
	// content_hash) or none (OpenSearch assigns ids; retries may duplicate).
	Mode string `mapstructure:"mode"`
	// Attribute is the record attribute holding an id in attribute mode.
	Attribute string `mapstructure:"attribute"`
}

// BulkConfig limits one _bulk request.
type BulkConfig struct {
	// MaxBytes is the largest uncompressed request body; a single larger
	// document is still sent alone.
	MaxBytes int `mapstructure:"max_bytes"`
	// MaxDocuments is the most documents in one request.
	MaxDocuments int `mapstructure:"max_documents"`
}

// DeadLetterConfig says where permanently rejected documents go. At least one
// destination is required: a rejected document is never dropped.
type DeadLetterConfig struct {
	// Index is the dead-letter index name template; empty disables it.
	Index string `mapstructure:"index"`
	// File is a local NDJSON file; empty disables it.
	File string `mapstructure:"file"`
}

// IndexTemplateConfig controls the index templates installed at start.
type IndexTemplateConfig struct {
	// Enabled installs (PUT, idempotent) the templates at start.
	Enabled bool `mapstructure:"enabled"`
	// NamePrefix names the templates <prefix>-logs, <prefix>-traces, <prefix>-dlq.
	NamePrefix string `mapstructure:"name_prefix"`
	// Priority of the templates; must beat other templates matching the same indices.
	Priority int `mapstructure:"priority"`
	// Shards is index.number_of_shards; 0 keeps the cluster default.
	Shards int `mapstructure:"shards"`
	// Replicas is index.number_of_replicas; -1 keeps the cluster default.
	Replicas int `mapstructure:"replicas"`
}

// ISMPolicyConfig controls the retention policies installed at start.
type ISMPolicyConfig struct {
	// Enabled installs an ISM policy per index pattern (hot, then delete).
	Enabled bool `mapstructure:"enabled"`
	// Retention is the index age after which indices are deleted.
	Retention time.Duration `mapstructure:"retention"`
}

// AWSSigV4Config signs requests with AWS Signature Version 4.
type AWSSigV4Config struct {
	// Enabled turns signing on; credentials come from the AWS default chain.
	Enabled bool `mapstructure:"enabled"`
	// Region of the domain or collection, e.g. eu-west-1.
	Region string `mapstructure:"region"`
	// Service is es (OpenSearch Service) or aoss (OpenSearch Serverless).
	Service string `mapstructure:"service"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = DefaultHTTPTimeout
	client.Compression = configcompression.TypeGzip
	client.MaxIdleConnsPerHost = 64
	return &Config{
		ClientConfig:      client,
		QueueConfig:       configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:       configretry.NewDefaultBackOffConfig(),
		LogsIndex:         DefaultLogsIndex,
		TracesIndex:       DefaultTracesIndex,
		IndexMissingValue: DefaultIndexMissingValue,
		DocumentID:        DocumentIDConfig{Mode: IDModeContentHash, Attribute: DefaultIDAttribute},
		Bulk:              BulkConfig{MaxBytes: DefaultBulkMaxBytes, MaxDocuments: DefaultBulkMaxDocuments},
		DeadLetter:        DeadLetterConfig{Index: DefaultDeadLetterIndex},
		IndexTemplate: IndexTemplateConfig{
			Enabled: true, NamePrefix: DefaultTemplatePrefix, Priority: DefaultTemplatePriority, Replicas: -1,
		},
		ISMPolicy: ISMPolicyConfig{Enabled: true, Retention: DefaultISMRetention},
		AWSSigV4:  AWSSigV4Config{Service: DefaultAWSService},
	}
}

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ClientConfig.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set, e.g. http://127.0.0.1:9200"))
	} else if u, err := url.Parse(cfg.ClientConfig.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q must be an http:// or https:// URL with a host", cfg.ClientConfig.Endpoint))
	}
	switch cfg.ClientConfig.Compression {
	case "", "none", configcompression.TypeGzip:
	default:
		errs = append(errs, fmt.Errorf("compression: %q is not supported; allowed: none, gzip", cfg.ClientConfig.Compression))
	}
	if cfg.ClientConfig.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	for _, t := range []struct{ key, val string }{{"logs_index", cfg.LogsIndex}, {"traces_index", cfg.TracesIndex}} {
		if _, err := indexname.Parse(t.val, cfg.IndexMissingValue); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %w", t.key, t.val, err))
		}
	}
	switch cfg.DocumentID.Mode {
	case IDModeContentHash, IDModeNone:
	case IDModeAttribute:
		if cfg.DocumentID.Attribute == "" {
			errs = append(errs, errors.New("document_id.attribute: must be set when document_id.mode is attribute"))
		}
	default:
		errs = append(errs, fmt.Errorf("document_id.mode: %q is not valid; allowed: content_hash, attribute, none", cfg.DocumentID.Mode))
	}
	if cfg.Bulk.MaxBytes <= 0 || cfg.Bulk.MaxBytes > maxBulkBytes {
		errs = append(errs, fmt.Errorf("bulk.max_bytes: %d must be between 1 and %d", cfg.Bulk.MaxBytes, maxBulkBytes))
	}
	if cfg.Bulk.MaxDocuments <= 0 {
		errs = append(errs, fmt.Errorf("bulk.max_documents: %d must be positive", cfg.Bulk.MaxDocuments))
	}
	if cfg.DeadLetter.Index == "" && cfg.DeadLetter.File == "" {
		errs = append(errs, errors.New("dead_letter: set index, file or both; rejected documents are never dropped"))
	}
	if cfg.DeadLetter.Index != "" {
		if _, err := indexname.Parse(cfg.DeadLetter.Index, cfg.IndexMissingValue); err != nil {
			errs = append(errs, fmt.Errorf("dead_letter.index: %q: %w", cfg.DeadLetter.Index, err))
		}
	}
	if cfg.IndexTemplate.Enabled {
		if cfg.IndexTemplate.NamePrefix == "" || strings.ContainsAny(cfg.IndexTemplate.NamePrefix, "/?#* ") {
			errs = append(errs, fmt.Errorf("index_template.name_prefix: %q must be non-empty without '/', '?', '#', '*' or spaces", cfg.IndexTemplate.NamePrefix))
		}
		if cfg.IndexTemplate.Priority < 0 {
			errs = append(errs, errors.New("index_template.priority: must not be negative"))
		}
		if cfg.IndexTemplate.Shards < 0 {
			errs = append(errs, errors.New("index_template.shards: must be 0 (cluster default) or positive"))
		}
		if cfg.IndexTemplate.Replicas < -1 {
			errs = append(errs, errors.New("index_template.replicas: must be -1 (cluster default) or at least 0"))
		}
	}
	if cfg.ISMPolicy.Enabled && cfg.ISMPolicy.Retention < time.Minute {
		errs = append(errs, fmt.Errorf("ism_policy.retention: %s must be at least 1m", cfg.ISMPolicy.Retention))
	}
	if cfg.AWSSigV4.Enabled {
		if cfg.AWSSigV4.Region == "" {
			errs = append(errs, errors.New("aws_sigv4.region: must be set when aws_sigv4.enabled is true"))
		}
		if cfg.AWSSigV4.Service != "es" && cfg.AWSSigV4.Service != "aoss" {
			errs = append(errs, fmt.Errorf("aws_sigv4.service: %q is not valid; allowed: es, aoss", cfg.AWSSigV4.Service))
		}
	}
	return errors.Join(errs...)
}
