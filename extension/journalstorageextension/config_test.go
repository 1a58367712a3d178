package journalstorageextension

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/extension/journalstorageextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	defaults := createDefaultConfig().(*Config)
	defaults.Directory = "/tmp"
	custom := &Config{Directory: "/var/lib/sluice/state", CreateDirectory: true, FSync: true, SegmentSize: 8 << 20, InlineMax: 4096, OnCorruption: "fail"}
	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: defaults},
		{name: "custom", want: custom},
		{name: "no_directory", wantErr: "directory: must be set"},
		{name: "missing_directory", wantErr: "directory: stat /nonexistent/sluice-journal-test: no such file or directory (set create_directory: true to create it)"},
		{name: "small_segments", wantErr: "segment_size: must be between 65536 and 536870912 bytes, got 1024"},
		{name: "bad_inline_max", wantErr: "inline_max: must be between 0 and 65536 bytes, got -1"},
		{name: "bad_on_corruption", wantErr: `on_corruption: must be "recreate" or "fail", got "ignore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}
