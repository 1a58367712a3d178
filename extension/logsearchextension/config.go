package logsearchextension

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Defaults.
const (
	defaultEndpoint             = "localhost:8480"
	defaultStorageType          = StorageLocal
	defaultLocalPath            = "./data/archive"
	defaultQueryTimeout         = 30 * time.Second
	defaultMaxConcurrentQueries = 4
	defaultLimit                = 100
	defaultMaxLimit             = 1000
	defaultMaxTraceRecords      = 10000
	defaultMaxHistogramBuckets  = 500
	defaultHistogramRange       = 24 * time.Hour
	defaultFooterCacheSize      = 4096
	defaultFooterConcurrency    = query.DefaultFooterConcurrency
	maxFooterConcurrency        = 256
	defaultS3Region             = "us-east-1"
	maxMaxLimit                 = 100000
)

// Storage types.
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// Config is the log_search extension configuration.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, auth extension,
	// CORS and timeouts (the collector's confighttp settings).
	confighttp.ServerConfig `mapstructure:",squash"`
	// Storage is where the parquet exporter writes the archive.
	Storage StorageConfig `mapstructure:"storage"`
	// PathTemplate is the archive's partition template; it must equal the
	// parquet exporter's path_template.
	PathTemplate string `mapstructure:"path_template"`
	// QueryTimeout bounds one query, including the wait for a free slot.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// MaxConcurrentQueries is the number of queries run at once; more wait
	// until their timeout, then get HTTP 429.
	MaxConcurrentQueries int `mapstructure:"max_concurrent_queries"`
	// DefaultLimit is the page size of a search without limit.
	DefaultLimit int `mapstructure:"default_limit"`
	// MaxLimit is the largest page size a search may ask for.
	MaxLimit int `mapstructure:"max_limit"`
	// MaxTraceRecords caps the records returned for one trace.
	MaxTraceRecords int `mapstructure:"max_trace_records"`
	// MaxHistogramBuckets caps the buckets of one histogram.
	MaxHistogramBuckets int `mapstructure:"max_histogram_buckets"`
	// HistogramDefaultRange is the histogram's range when from is omitted.
	HistogramDefaultRange time.Duration `mapstructure:"histogram_default_range"`
	// FooterCacheSize is the number of Parquet file footers kept parsed in
	// memory (files are immutable, so entries never go stale).
	FooterCacheSize int `mapstructure:"footer_cache_size"`
	// FooterConcurrency is the number of file footers one query reads at
	// once (on S3 each is a ranged GET); 1 reads them one after another.
	FooterConcurrency int `mapstructure:"footer_concurrency"`
}

// StorageConfig locates the archive; it mirrors the parquet exporter's
// storage block so the same values can be copied.
type StorageConfig struct {
	// Type is "local" (default) or "s3".
	Type string `mapstructure:"type"`
	// Local configures type local.
	Local LocalConfig `mapstructure:"local"`
	// S3 configures type s3.
	S3 S3Config `mapstructure:"s3"`
}

// S3Config is an S3-compatible bucket (AWS S3, MinIO, …).
type S3Config struct {
	// Bucket is the bucket name (required).
	Bucket string `mapstructure:"bucket"`
	// Prefix is the key prefix of the archive ("" = bucket root).
	Prefix string `mapstructure:"prefix"`
	// Region is the signing region.
	Region string `mapstructure:"region"`
	// Endpoint overrides the endpoint URL, e.g. http://127.0.0.1:9000 for MinIO.
	Endpoint string `mapstructure:"endpoint"`
	// ForcePathStyle uses http://host/bucket/key addressing (needed for MinIO).
	ForcePathStyle bool `mapstructure:"force_path_style"`
	// AccessKeyID and SecretAccessKey are static credentials; when empty the
	// default AWS chain (env, shared config, instance role) is used.
	AccessKeyID     string              `mapstructure:"access_key_id"`
	SecretAccessKey configopaque.String `mapstructure:"secret_access_key"`
	// SessionToken goes with temporary static credentials.
	SessionToken configopaque.String `mapstructure:"session_token"`
}

// LocalConfig is a local archive directory.
type LocalConfig struct {
	// Path is the archive root directory (the exporter's storage.local.path).
	Path string `mapstructure:"path"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	}
	switch c.Storage.Type {
	case StorageLocal:
		if c.Storage.Local.Path == "" {
			errs = append(errs, errors.New("storage.local.path must not be empty"))
		}
	case StorageS3:
		if c.Storage.S3.Bucket == "" {
			errs = append(errs, errors.New("storage.s3.bucket must not be empty"))
		}
		if c.Storage.S3.Region == "" {
			errs = append(errs, errors.New("storage.s3.region must not be empty"))
		}
		if (c.Storage.S3.AccessKeyID == "") != (c.Storage.S3.SecretAccessKey == "") {
			errs = append(errs, errors.New("storage.s3.access_key_id and storage.s3.secret_access_key must be set together"))
		}
	default:
		errs = append(errs, fmt.Errorf("storage.type %q must be one of local, s3", c.Storage.Type))
	}
	if _, err := logarchive.NewLayout(c.PathTemplate); err != nil {
		errs = append(errs, fmt.Errorf("path_template: %w", err))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("query_timeout %s must be positive", c.QueryTimeout))
	}
	if c.MaxConcurrentQueries < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent_queries %d must be at least 1", c.MaxConcurrentQueries))
	}
	if c.MaxLimit < 1 || c.MaxLimit > maxMaxLimit {
		errs = append(errs, fmt.Errorf("max_limit %d must be from 1 to %d", c.MaxLimit, maxMaxLimit))
	}
	if c.DefaultLimit < 1 || c.DefaultLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("default_limit %d must be from 1 to max_limit (%d)", c.DefaultLimit, c.MaxLimit))
	}
	if c.MaxTraceRecords < 1 || c.MaxTraceRecords > maxMaxLimit {
		errs = append(errs, fmt.Errorf("max_trace_records %d must be from 1 to %d", c.MaxTraceRecords, maxMaxLimit))
	}
	if c.MaxHistogramBuckets < 1 || c.MaxHistogramBuckets > 10000 {
		errs = append(errs, fmt.Errorf("max_histogram_buckets %d must be from 1 to 10000", c.MaxHistogramBuckets))
	}
	if c.HistogramDefaultRange <= 0 {
		errs = append(errs, fmt.Errorf("histogram_default_range %s must be positive", c.HistogramDefaultRange))
	}
	if c.FooterCacheSize < 0 {
		errs = append(errs, fmt.Errorf("footer_cache_size %d must not be negative", c.FooterCacheSize))
	}
	if c.FooterConcurrency < 1 || c.FooterConcurrency > maxFooterConcurrency {
		errs = append(errs, fmt.Errorf("footer_concurrency %d must be from 1 to %d", c.FooterConcurrency, maxFooterConcurrency))
	}
	return errors.Join(errs...)
}
