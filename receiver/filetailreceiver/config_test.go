package filetailreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	storage := component.MustNewID("file_storage")
	k8s := createDefaultConfig().(*Config)
	k8s.Include = []string{"/var/log/pods/*/*/*.log"}
	k8s.Exclude = []string{"*.gz", "*.tmp"}
	k8s.StartAt = StartAtBeginning
	k8s.PollInterval = 50 * time.Millisecond
	k8s.ScanInterval = 2 * time.Second
	k8s.MaxOpenFiles = 512
	k8s.FingerprintSize = 2000
	k8s.MaxRecordSize = 256 << 10
	k8s.Format = FormatCRI
	k8s.Multiline = MultilineConfig{Preset: "java", FlushTimeout: 3 * time.Second}
	k8s.CloseInactive = 10 * time.Minute
	k8s.RotationWait = 30 * time.Second
	k8s.Storage = &storage
	k8s.CommitInterval = time.Second
	k8s.MaxBatchRecords = 2000
	k8s.MaxBatchBytes = 8 << 20
	k8s.Retry = RetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 10 * time.Second}
	k8s.ResourceAttributes = map[string]string{"k8s.node.name": "node-1"}

	plain := createDefaultConfig().(*Config)
	plain.Include = []string{"/var/log/app/*.log"}

	pattern := createDefaultConfig().(*Config)
	pattern.Include = []string{"/srv/*.log"}
	pattern.CheckpointDir = "/var/lib/sluice/checkpoints"
	pattern.Multiline.LineStartPattern = `^\d{4}-\d{2}-\d{2}`

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: plain},
		{name: "k8s", want: k8s},
		{name: "pattern", want: pattern},
		{name: "no_include", wantErr: "include: at least one glob pattern is required"},
		{name: "bad_glob", wantErr: `include: invalid glob "/var/log/[.log": syntax error in pattern`},
		{name: "bad_start_at", wantErr: `start_at: "middle" is not one of "beginning", "end"`},
		{name: "bad_format", wantErr: `format: "xml" is not one of ["auto" "json" "logfmt" "cri" "docker" "text" "none"]`},
		{name: "bad_multiline", wantErr: "multiline: preset and line_start_pattern are mutually exclusive"},
		{name: "bad_preset", wantErr: `multiline::preset: "cobol" is not one of ["java" "python" "go"]`},
		{name: "bad_pattern", wantErr: "multiline::line_start_pattern: invalid regular expression: error parsing regexp: missing closing ): `(`"},
		{name: "bad_sizes", wantErr: "max_open_files: must be at least 1, got 0\n" +
			"fingerprint_size: must be between 16 and 65536, got 8\n" +
			"max_record_size: must be between 64 and 67108864, got 10\n" +
			"max_batch_records: must be at least 1, got 0"},
		{name: "bad_intervals", wantErr: "poll_interval: must be positive, got 0s\n" +
			"scan_interval: must be at least poll_interval (0s), got -1s\n" +
			"multiline::flush_timeout: must be positive, got 0s\n" +
			"close_inactive: must be positive, got 0s\n" +
			"rotation_wait: must not be negative, got -1s\n" +
			"commit_interval: must not be negative, got -1s\n" +
			"retry::initial_interval: must be positive, got 0s\n" +
			"retry::max_interval: must be at least retry::initial_interval (0s), got -1s"},
		{name: "bad_batch_bytes", wantErr: "max_batch_bytes: must be between max_record_size (1048576) and 268435456, got 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := component.NewIDWithName(metadata.Type, tt.name)
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			cfg := createDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
