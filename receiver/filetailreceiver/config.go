package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/multiline"
)

// Defaults.
const (
	defaultStartAt          = StartAtEnd
	defaultPollInterval     = 20 * time.Millisecond
	defaultScanInterval     = time.Second
	defaultMaxOpenFiles     = 256
	defaultFingerprintSize  = 1000
	defaultMaxRecordSize    = 1 << 20 // 1 MiB
	defaultMaxBatchRecords  = 1000
	defaultMaxBatchBytes    = 4 << 20 // 4 MiB
	defaultFormat           = FormatAuto
	defaultFlushTimeout     = time.Second
	defaultCloseInactive    = 5 * time.Minute
	defaultRotationWait     = 5 * time.Second
	defaultRetryInitial     = 100 * time.Millisecond
	defaultRetryMax         = 5 * time.Second
	defaultCommitInterval   = 0 * time.Second
	minFingerprintSize      = 16
	maxFingerprintSize      = 64 << 10
	minMaxRecordSize        = 64
	maxMaxRecordSize        = 64 << 20
	maxMaxBatchBytesAllowed = 256 << 20
)

// Values of start_at.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Values of format.
const (
	FormatAuto   = "auto"
	FormatJSON   = "json"
	FormatLogfmt = "logfmt"
	FormatCRI    = "cri"
	FormatDocker = "docker"
	FormatText   = "text"
	FormatNone   = "none"
)

var validFormats = []string{FormatAuto, FormatJSON, FormatLogfmt, FormatCRI, FormatDocker, FormatText, FormatNone}

// Config configures the file_tail receiver.
type Config struct {
	// Include lists glob patterns (Go filepath.Match syntax: *, ?, [a-z];
	// no **) of the files to tail. At least one is required.
	Include []string `mapstructure:"include"`
	// Exclude lists glob patterns matched against the full path or the base
	// name; a file matching any of them is never tailed (e.g. "*.gz").
	Exclude []string `mapstructure:"exclude"`
	// StartAt says where to start in files found at the first scan that have
	// no checkpoint: "beginning" or "end". Files appearing later are always
	// read from the beginning, so nothing written after start-up is missed.
	StartAt string `mapstructure:"start_at"`
	// PollInterval is how often open files are checked for new data (one
	// fstat per open file); it bounds the latency from write to delivery.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// ScanInterval is how often include is re-evaluated to find new, renamed
	// and deleted files.
	ScanInterval time.Duration `mapstructure:"scan_interval"`
	// MaxOpenFiles bounds the number of file descriptors held. Idle files
	// are closed (their offset kept) to make room.
	MaxOpenFiles int `mapstructure:"max_open_files"`
	// FingerprintSize is how many leading bytes identify a file across
	// renames and restarts (together with device and inode).
	FingerprintSize int `mapstructure:"fingerprint_size"`
	// MaxRecordSize is the largest record in bytes; longer records are cut
	// and counted in file_tail_records_truncated.
	MaxRecordSize int `mapstructure:"max_record_size"`
	// Format selects the parser: auto, json, logfmt, cri, docker, text or
	// none (the line is the body, nothing is parsed).
	Format string `mapstructure:"format"`
	// Multiline joins physical lines into one record.
	Multiline MultilineConfig `mapstructure:"multiline"`
	// CloseInactive closes a file that has not grown for this long when the
	// max_open_files bound is reached.
	CloseInactive time.Duration `mapstructure:"close_inactive"`
	// RotationWait is how long a file that was renamed away or deleted is
	// still read after its last growth before its descriptor is released.
	RotationWait time.Duration `mapstructure:"rotation_wait"`
	// Storage is the ID of a storage extension (e.g. file_storage) holding
	// the checkpoints. Takes precedence over checkpoint_dir.
	Storage *component.ID `mapstructure:"storage"`
	// CheckpointDir is a directory where checkpoints are written atomically
	// when no storage extension is configured. With neither, offsets live
	// only in memory and a restart follows start_at.
	CheckpointDir string `mapstructure:"checkpoint_dir"`
	// CommitInterval is the minimum time between two checkpoint writes;
	// 0 writes after every acknowledged batch (fewest re-reads after a crash).
	CommitInterval time.Duration `mapstructure:"commit_interval"`
	// MaxBatchRecords is the largest number of records handed to the next
	// consumer at once; reading pauses until the batch is accepted.
	MaxBatchRecords int `mapstructure:"max_batch_records"`
	// MaxBatchBytes bounds the bytes of a batch in flight (bounded memory).
	MaxBatchBytes int `mapstructure:"max_batch_bytes"`
	// Retry is the backoff used when the next consumer refuses a batch; the
	// batch is retried until it is accepted or the receiver shuts down.
	Retry RetryConfig `mapstructure:"retry"`
	// ResourceAttributes adds static attributes to every record's resource.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// MultilineConfig configures how physical lines are joined into records.
type MultilineConfig struct {
	// Preset is a built-in start pattern: "java", "python", "go" or empty.
	Preset string `mapstructure:"preset"`
	// LineStartPattern is a regular expression matching the first line of a
	// record; lines not matching it are appended to the record before them.
	// Mutually exclusive with preset.
	LineStartPattern string `mapstructure:"line_start_pattern"`
	// FlushTimeout emits a pending record when no further line arrived for
	// this long.
	FlushTimeout time.Duration `mapstructure:"flush_timeout"`
}

// RetryConfig is the backoff for batches refused by the next consumer.
type RetryConfig struct {
	// InitialInterval is the wait before the first retry.
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	// MaxInterval caps the doubling wait between retries.
	MaxInterval time.Duration `mapstructure:"max_interval"`
}

// Enabled reports whether records are joined across lines.
func (m MultilineConfig) Enabled() bool { return m.Preset != "" || m.LineStartPattern != "" }

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Include) == 0 {
		errs = append(errs, errors.New("include: at least one glob pattern is required"))
	}
	for _, p := range cfg.Include {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("include: invalid glob %q: %w", p, err))
		}
	}
	for _, p := range cfg.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("exclude: invalid glob %q: %w", p, err))
		}
	}
	if cfg.StartAt != StartAtBeginning && cfg.StartAt != StartAtEnd {
		errs = append(errs, fmt.Errorf("start_at: %q is not one of %q, %q", cfg.StartAt, StartAtBeginning, StartAtEnd))
	}
	if cfg.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval: must be positive, got %s", cfg.PollInterval))
	}
	if cfg.ScanInterval < cfg.PollInterval {
		errs = append(errs, fmt.Errorf("scan_interval: must be at least poll_interval (%s), got %s", cfg.PollInterval, cfg.ScanInterval))
	}
	if cfg.MaxOpenFiles < 1 {
		errs = append(errs, fmt.Errorf("max_open_files: must be at least 1, got %d", cfg.MaxOpenFiles))
	}
	if cfg.FingerprintSize < minFingerprintSize || cfg.FingerprintSize > maxFingerprintSize {
		errs = append(errs, fmt.Errorf("fingerprint_size: must be between %d and %d, got %d", minFingerprintSize, maxFingerprintSize, cfg.FingerprintSize))
	}
	if cfg.MaxRecordSize < minMaxRecordSize || cfg.MaxRecordSize > maxMaxRecordSize {
		errs = append(errs, fmt.Errorf("max_record_size: must be between %d and %d, got %d", minMaxRecordSize, maxMaxRecordSize, cfg.MaxRecordSize))
	}
	if !contains(validFormats, cfg.Format) {
		errs = append(errs, fmt.Errorf("format: %q is not one of %q", cfg.Format, validFormats))
	}
	if cfg.Multiline.Preset != "" && cfg.Multiline.LineStartPattern != "" {
		errs = append(errs, errors.New("multiline: preset and line_start_pattern are mutually exclusive"))
	}
	if cfg.Multiline.Preset != "" && !contains(multiline.PresetNames(), cfg.Multiline.Preset) {
		errs = append(errs, fmt.Errorf("multiline::preset: %q is not one of %q", cfg.Multiline.Preset, multiline.PresetNames()))
	}
	if cfg.Multiline.LineStartPattern != "" {
		if _, err := regexp.Compile(cfg.Multiline.LineStartPattern); err != nil {
			errs = append(errs, fmt.Errorf("multiline::line_start_pattern: invalid regular expression: %w", err))
		}
	}
	if cfg.Multiline.FlushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("multiline::flush_timeout: must be positive, got %s", cfg.Multiline.FlushTimeout))
	}
	if cfg.CloseInactive <= 0 {
		errs = append(errs, fmt.Errorf("close_inactive: must be positive, got %s", cfg.CloseInactive))
	}
	if cfg.RotationWait < 0 {
		errs = append(errs, fmt.Errorf("rotation_wait: must not be negative, got %s", cfg.RotationWait))
	}
	if cfg.CommitInterval < 0 {
		errs = append(errs, fmt.Errorf("commit_interval: must not be negative, got %s", cfg.CommitInterval))
	}
	if cfg.MaxBatchRecords < 1 {
		errs = append(errs, fmt.Errorf("max_batch_records: must be at least 1, got %d", cfg.MaxBatchRecords))
	}
	if cfg.MaxBatchBytes < cfg.MaxRecordSize || cfg.MaxBatchBytes > maxMaxBatchBytesAllowed {
		errs = append(errs, fmt.Errorf("max_batch_bytes: must be between max_record_size (%d) and %d, got %d", cfg.MaxRecordSize, maxMaxBatchBytesAllowed, cfg.MaxBatchBytes))
	}
	if cfg.Retry.InitialInterval <= 0 {
		errs = append(errs, fmt.Errorf("retry::initial_interval: must be positive, got %s", cfg.Retry.InitialInterval))
	}
	if cfg.Retry.MaxInterval < cfg.Retry.InitialInterval {
		errs = append(errs, fmt.Errorf("retry::max_interval: must be at least retry::initial_interval (%s), got %s", cfg.Retry.InitialInterval, cfg.Retry.MaxInterval))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
