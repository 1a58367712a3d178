package parquetexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Defaults.
const (
	defaultStorageType        = StorageLocal
	defaultLocalPath          = "./data/archive"
	defaultStagingDirectory   = "./data/staging/parquet"
	defaultStagingMaxSize     = 1 << 30 // 1 GiB
	defaultRollMaxRows        = 1_000_000
	defaultRollMaxBytes       = 64 << 20 // 64 MiB of staged Arrow data
	defaultRollMaxAge         = 5 * time.Minute
	defaultRollMaxOpen        = 64
	defaultCompressionLevel   = 3
	defaultRowGroupRows       = 128 * 1024
	defaultDataPageSize       = 1 << 20 // larger pages compress better; time columns fit one page per row group anyway
	defaultBloomNDV           = 100_000
	defaultBloomFPP           = 0.01
	defaultS3Region           = "us-east-1"
	defaultMultipartThreshold = 64 << 20
	defaultPartSize           = 16 << 20
	minPartSize               = 5 << 20 // S3's minimum for all but the last part
	defaultS3MaxAttempts      = 5
	defaultRetentionInterval  = time.Hour
	defaultUploadRetryInitial = time.Second
	defaultUploadRetryMax     = time.Minute
	defaultRollCheckInterval  = 10 * time.Second
	defaultTimeout            = 30 * time.Second
	defaultQueueNumConsumers  = 4
	minRollCheckInterval      = 10 * time.Millisecond
	maxCompressionLevel       = 22
	maxRowGroupRowsUpperBound = 64 << 20
	minDataPageSize           = 4 << 10
	maxDataPageSize           = 64 << 20
	maxBloomNDVUpperBound     = 1 << 30
	// maxRollMaxBytes keeps every string column of a file well below the
	// 2 GiB that Arrow's int32 offsets can address when a journal's
	// batches are concatenated into one Parquet column.
	maxRollMaxBytes = 1 << 30
)

// Storage types.
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// Config is the parquet exporter configuration.
type Config struct {
	// WriterID names this collector in file names (<writer_id>-<seq>.parquet;
	// a named instance parquet/x writes <writer_id>.x-<seq>.parquet).
	// Several collectors writing one archive need distinct ids. Empty means
	// the host name (sanitized).
	WriterID string `mapstructure:"writer_id"`
	// PathTemplate is the partition directory template; see internal/logarchive
	// (placeholders {signal} {service} {date} {year} {month} {day} {hour}).
	PathTemplate string `mapstructure:"path_template"`
	// PromotedAttributes lists log attributes stored in their own typed columns.
	PromotedAttributes []PromotedAttribute `mapstructure:"promoted_attributes"`
	// Traces configures the span archive written when the exporter is in a
	// traces pipeline.
	Traces TracesConfig `mapstructure:"traces"`
	// Storage is where finished files go.
	Storage StorageConfig `mapstructure:"storage"`
	// Staging is the local crash-safe journal directory.
	Staging StagingConfig `mapstructure:"staging"`
	// Roll decides when an open file is closed.
	Roll RollConfig `mapstructure:"roll"`
	// Parquet holds the file encoding settings.
	Parquet ParquetConfig `mapstructure:"parquet"`
	// Retention deletes old partitions (local storage only).
	Retention RetentionConfig `mapstructure:"retention"`
	// UploadRetry is the backoff between attempts to build and upload a
	// closed file; attempts never stop while the data is staged.
	UploadRetry UploadRetryConfig `mapstructure:"upload_retry"`

	// TimeoutConfig bounds one push into staging.
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is the sending queue in front of staging.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig retries pushes that staging refused (full or disk error).
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
}

// TracesConfig is the span archive's own layout and promoted columns; every
// other setting (storage, staging, roll, parquet, retention) is shared with logs.
type TracesConfig struct {
	// PathTemplate is the partition directory template of span files. It
	// must not produce the same paths as path_template (keep {signal}, or
	// use a different literal prefix).
	PathTemplate string `mapstructure:"path_template"`
	// PromotedAttributes lists span attributes stored in their own typed columns.
	PromotedAttributes []PromotedAttribute `mapstructure:"promoted_attributes"`
}

// PromotedAttribute is an attribute lifted into its own typed column.
type PromotedAttribute struct {
	// Key is the attribute key, e.g. http.response.status_code.
	Key string `mapstructure:"key"`
	// Column is the column name; default: the key with every character
	// outside [a-z0-9_] replaced by '_'.
	Column string `mapstructure:"column"`
	// Source is "record" (default) or "resource".
	Source string `mapstructure:"source"`
	// Type is string (default), int, double or bool.
	Type string `mapstructure:"type"`
}

// StorageConfig selects and configures the archive storage.
type StorageConfig struct {
	// Type is "local" (default) or "s3".
	Type string `mapstructure:"type"`
	// Local configures type local.
	Local LocalConfig `mapstructure:"local"`
	// S3 configures type s3.
	S3 S3Config `mapstructure:"s3"`
}

// LocalConfig is a local archive directory.
type LocalConfig struct {
	// Path is the archive root directory.
	Path string `mapstructure:"path"`
}

// S3Config is an S3-compatible bucket (AWS S3, MinIO, …).
type S3Config struct {
	// Bucket is the bucket name (required).
	Bucket string `mapstructure:"bucket"`
	// Prefix is prepended to every object key ("" = bucket root).
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
	// MultipartThreshold: files larger than this many bytes use multipart upload.
	MultipartThreshold int64 `mapstructure:"multipart_threshold"`
	// PartSize is the multipart part size in bytes (≥ 5 MiB).
	PartSize int64 `mapstructure:"part_size"`
	// ConditionalWrites sends If-None-Match: * so an existing object is never
	// overwritten (AWS S3 since 2024, MinIO): an upload retried after a crash
	// finds its own object, a different one is reported, not replaced. Turn
	// off for stores that reject the header; keys stay deterministic.
	ConditionalWrites bool `mapstructure:"conditional_writes"`
	// MaxAttempts bounds the SDK's retries of one request (5xx, throttling).
	MaxAttempts int `mapstructure:"max_attempts"`
}

// StagingConfig is the crash-safe journal area.
type StagingConfig struct {
	// Directory holds the journals (a subdirectory per exporter instance).
	// It must be on persistent local disk for crash safety.
	Directory string `mapstructure:"directory"`
	// Fsync syncs every journal append before acknowledging it. Turning it
	// off trades crash safety (data in the page cache) for throughput.
	Fsync bool `mapstructure:"fsync"`
	// MaxSize is the staging size in bytes above which new data is refused
	// (retryable) until uploads catch up.
	MaxSize int64 `mapstructure:"max_size"`
}

// RollConfig decides when a file is closed and published.
type RollConfig struct {
	// MaxRows closes a file at this many rows.
	MaxRows int64 `mapstructure:"max_rows"`
	// MaxBytes closes a file when its staged (uncompressed Arrow) size
	// reaches this many bytes, at most 1 GiB; Parquet output is typically
	// 5-15× smaller.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// MaxAge closes a file this long after its first row was staged, which
	// bounds how stale the archive is.
	MaxAge time.Duration `mapstructure:"max_age"`
	// MaxOpenFiles bounds simultaneously open partitions; the oldest is
	// closed when a new partition would exceed it.
	MaxOpenFiles int `mapstructure:"max_open_files"`
	// CheckInterval is how often file ages are checked.
	CheckInterval time.Duration `mapstructure:"check_interval"`
}

// ParquetConfig are the file encoding settings.
type ParquetConfig struct {
	// CompressionLevel is the zstd level, 1-22 (levels map onto the Go
	// encoder's fastest (<3), default (3-5), better (6-9), best (≥10)).
	CompressionLevel int `mapstructure:"compression_level"`
	// RowGroupRows is the maximum rows per row group.
	RowGroupRows int64 `mapstructure:"row_group_rows"`
	// DataPageSize is the target uncompressed page size in bytes.
	DataPageSize int64 `mapstructure:"data_page_size"`
	// PageIndex writes column/offset indexes for page-level pruning.
	PageIndex bool `mapstructure:"page_index"`
	// BloomFilter configures the trace_id bloom filter.
	BloomFilter BloomFilterConfig `mapstructure:"bloom_filter"`
	// MapDictionary dictionary-encodes attribute map keys and values (also
	// inside span events and links) with dictionaries the exporter builds
	// per row group; a leaf whose values are mostly distinct, or whose
	// dictionary would pass 1 MiB, is still written without one. false
	// writes every map entry PLAIN. Default true.
	MapDictionary bool `mapstructure:"map_dictionary"`
}

// BloomFilterConfig sizes the trace_id bloom filter.
type BloomFilterConfig struct {
	// Enabled writes the filter.
	Enabled bool `mapstructure:"enabled"`
	// NDV is the expected distinct trace ids per row group.
	NDV int64 `mapstructure:"ndv"`
	// FPP is the false-positive probability, in (0, 1).
	FPP float64 `mapstructure:"fpp"`
}

// RetentionConfig deletes old partitions of a local archive.
type RetentionConfig struct {
	// MaxAge deletes partitions whose time range ended more than MaxAge ago;
	// 0 disables retention. For S3 use a bucket lifecycle rule instead.
	MaxAge time.Duration `mapstructure:"max_age"`
	// CheckInterval is how often retention runs.
	CheckInterval time.Duration `mapstructure:"check_interval"`
}

// UploadRetryConfig is the backoff between publish attempts of one file.
type UploadRetryConfig struct {
	// InitialInterval is the first wait after a failure.
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	// MaxInterval caps the doubling wait.
	MaxInterval time.Duration `mapstructure:"max_interval"`
}

// promotedColumns converts promoted attribute settings into archive column definitions.
func promotedColumns(attrs []PromotedAttribute) []logarchive.PromotedColumn {
	out := make([]logarchive.PromotedColumn, 0, len(attrs))
	for _, p := range attrs {
		col := p.Column
		if col == "" {
			col = columnNameForKey(p.Key)
		}
		src := p.Source
		if src == "" {
			src = string(logarchive.SourceRecord)
		}
		typ := p.Type
		if typ == "" {
			typ = string(logarchive.TypeString)
		}
		out = append(out, logarchive.PromotedColumn{Column: col, Key: p.Key, Source: logarchive.AttributeSource(src), Type: logarchive.ColumnType(typ)})
	}
	return out
}

func columnNameForKey(key string) string {
	b := []byte(key)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.WriterID != "" {
		if err := logarchive.ValidateWriterID(c.WriterID); err != nil {
			errs = append(errs, fmt.Errorf("writer_id: %w", err))
		}
	}
	if _, err := logarchive.NewLayout(c.PathTemplate); err != nil {
		errs = append(errs, fmt.Errorf("path_template: %w", err))
	}
	if err := logarchive.ValidatePromoted(promotedColumns(c.PromotedAttributes)); err != nil {
		errs = append(errs, fmt.Errorf("promoted_attributes: %w", err))
	}
	errs = append(errs, c.validateTraces()...)
	switch c.Storage.Type {
	case StorageLocal:
		if c.Storage.Local.Path == "" {
			errs = append(errs, errors.New("storage.local.path must not be empty"))
		}
	case StorageS3:
		errs = append(errs, c.Storage.S3.validate()...)
	default:
		errs = append(errs, fmt.Errorf("storage.type %q must be one of local, s3", c.Storage.Type))
	}
	if c.Staging.Directory == "" {
		errs = append(errs, errors.New("staging.directory must not be empty"))
	}
	if c.Staging.MaxSize <= 0 {
		errs = append(errs, fmt.Errorf("staging.max_size %d must be > 0", c.Staging.MaxSize))
	}
	if c.Roll.MaxRows <= 0 {
		errs = append(errs, fmt.Errorf("roll.max_rows %d must be > 0", c.Roll.MaxRows))
	}
	if c.Roll.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("roll.max_bytes %d must be > 0", c.Roll.MaxBytes))
	}
	if c.Roll.MaxBytes > maxRollMaxBytes {
		errs = append(errs, fmt.Errorf("roll.max_bytes %d must be <= %d (1 GiB)", c.Roll.MaxBytes, maxRollMaxBytes))
	}
	if c.Roll.MaxBytes > 0 && c.Staging.MaxSize > 0 && c.Roll.MaxBytes > c.Staging.MaxSize {
		errs = append(errs, fmt.Errorf("roll.max_bytes %d must not exceed staging.max_size %d", c.Roll.MaxBytes, c.Staging.MaxSize))
	}
	if c.Roll.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("roll.max_age %s must be > 0", c.Roll.MaxAge))
	}
	if c.Roll.MaxOpenFiles <= 0 {
		errs = append(errs, fmt.Errorf("roll.max_open_files %d must be > 0", c.Roll.MaxOpenFiles))
	}
	if c.Roll.CheckInterval < minRollCheckInterval {
		errs = append(errs, fmt.Errorf("roll.check_interval %s must be >= %s", c.Roll.CheckInterval, minRollCheckInterval))
	}
	if c.Parquet.CompressionLevel < 1 || c.Parquet.CompressionLevel > maxCompressionLevel {
		errs = append(errs, fmt.Errorf("parquet.compression_level %d must be between 1 and %d", c.Parquet.CompressionLevel, maxCompressionLevel))
	}
	if c.Parquet.RowGroupRows <= 0 || c.Parquet.RowGroupRows > maxRowGroupRowsUpperBound {
		errs = append(errs, fmt.Errorf("parquet.row_group_rows %d must be between 1 and %d", c.Parquet.RowGroupRows, maxRowGroupRowsUpperBound))
	}
	if c.Parquet.DataPageSize < minDataPageSize || c.Parquet.DataPageSize > maxDataPageSize {
		errs = append(errs, fmt.Errorf("parquet.data_page_size %d must be between %d and %d", c.Parquet.DataPageSize, minDataPageSize, maxDataPageSize))
	}
	if c.Parquet.BloomFilter.Enabled {
		if c.Parquet.BloomFilter.NDV <= 0 || c.Parquet.BloomFilter.NDV > maxBloomNDVUpperBound {
			errs = append(errs, fmt.Errorf("parquet.bloom_filter.ndv %d must be between 1 and %d", c.Parquet.BloomFilter.NDV, maxBloomNDVUpperBound))
		}
		if c.Parquet.BloomFilter.FPP <= 0 || c.Parquet.BloomFilter.FPP >= 1 {
			errs = append(errs, fmt.Errorf("parquet.bloom_filter.fpp %g must be > 0 and < 1", c.Parquet.BloomFilter.FPP))
		}
	}
	if c.Retention.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("retention.max_age %s must be >= 0", c.Retention.MaxAge))
	}
	if c.Retention.MaxAge > 0 {
		if c.Storage.Type != StorageLocal {
			errs = append(errs, errors.New("retention.max_age is only supported with storage.type local; use a bucket lifecycle rule for s3"))
		}
		if c.Retention.CheckInterval <= 0 {
			errs = append(errs, fmt.Errorf("retention.check_interval %s must be > 0", c.Retention.CheckInterval))
		}
	}
	if c.UploadRetry.InitialInterval <= 0 {
		errs = append(errs, fmt.Errorf("upload_retry.initial_interval %s must be > 0", c.UploadRetry.InitialInterval))
	}
	if c.UploadRetry.MaxInterval < c.UploadRetry.InitialInterval {
		errs = append(errs, fmt.Errorf("upload_retry.max_interval %s must be >= upload_retry.initial_interval %s", c.UploadRetry.MaxInterval, c.UploadRetry.InitialInterval))
	}
	return errors.Join(errs...)
}

// validateTraces checks the traces block, including that span and log
// partition paths can never coincide: a span file must not land where the
// log_search extension or retention of the other signal would read it.
func (c *Config) validateTraces() []error {
	var errs []error
	tl, err := logarchive.NewLayout(c.Traces.PathTemplate)
	if err != nil {
		errs = append(errs, fmt.Errorf("traces.path_template: %w", err))
	} else if ll, lerr := logarchive.NewLayout(c.PathTemplate); lerr == nil && layoutsOverlap(ll, tl) {
		errs = append(errs, fmt.Errorf("traces.path_template %q yields the same partition paths as path_template %q; include {signal} in both or give them different literal prefixes", c.Traces.PathTemplate, c.PathTemplate))
	}
	if err := logarchive.ValidateSpanPromoted(promotedColumns(c.Traces.PromotedAttributes)); err != nil {
		errs = append(errs, fmt.Errorf("traces.promoted_attributes: %w", err))
	}
	return errs
}

// layoutsOverlap reports whether a partition path of one signal parses as a
// path of the other signal under the other's template.
func layoutsOverlap(logs, traces *logarchive.Layout) bool {
	t := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tp := traces.Path(traces.PartitionFor(logarchive.SignalTraces, "svc", t))
	if p, err := logs.ParsePath(tp); err == nil && p.Signal != logarchive.SignalTraces {
		return true
	}
	lp := logs.Path(logs.PartitionFor(logarchive.SignalLogs, "svc", t))
	if p, err := traces.ParsePath(lp); err == nil && p.Signal != logarchive.SignalLogs {
		return true
	}
	return false
}

func (s *S3Config) validate() []error {
	var errs []error
	if s.Bucket == "" {
		errs = append(errs, errors.New("storage.s3.bucket must not be empty"))
	}
	if s.Region == "" {
		errs = append(errs, errors.New("storage.s3.region must not be empty"))
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		errs = append(errs, errors.New("storage.s3.access_key_id and storage.s3.secret_access_key must be set together"))
	}
	if s.PartSize < minPartSize {
		errs = append(errs, fmt.Errorf("storage.s3.part_size %d must be >= %d (5 MiB)", s.PartSize, minPartSize))
	}
	if s.MultipartThreshold < s.PartSize {
		errs = append(errs, fmt.Errorf("storage.s3.multipart_threshold %d must be >= storage.s3.part_size %d", s.MultipartThreshold, s.PartSize))
	}
	if s.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("storage.s3.max_attempts %d must be >= 1", s.MaxAttempts))
	}
	return errs
}
