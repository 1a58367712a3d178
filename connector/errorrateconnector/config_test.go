package errorrateconnector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := createDefaultConfig()
	full.Errors = ErrorsConfig{
		MinSeverity: "WARN",
		Conditions: []ConditionConfig{
			{Attribute: "http.response.status_code", Op: ">=", Value: "500"},
			{Attribute: "error.type", Op: "exists"},
		},
	}
	full.Window = WindowConfig{Type: WindowSliding, Size: 5 * time.Minute, Step: time.Minute, TimeSource: TimeSourceEvent, AllowedLateness: 30 * time.Second}
	full.GroupBy = []string{"service.name", "deployment.environment", "http.route"}
	full.MaxGroups = 5000
	full.GroupExpiry = time.Hour
	full.Metrics = MetricsConfig{Prefix: "app.errors", Temporality: TemporalityDelta}
	full.Fingerprints = FingerprintsConfig{Enabled: true, TopN: 3, Tracked: 20, MaxLength: 120, MessageAttributes: []string{"exception.message"}}
	full.Alerts.Rules = []RuleConfig{
		{Name: "high_error_ratio", RatioThreshold: 0.05, MinRecords: 100, FireAfter: 2, ResolveAfter: 5},
		{Name: "error_burst", ErrorsThreshold: 500},
	}
	storageID := component.MustNewID("journal_storage")
	full.Storage = &storageID
	processing := createDefaultConfig()
	processing.Window.TimeSource = TimeSourceProcessing

	tests := []struct {
		id      string
		want    *Config
		wantErr string
	}{
		{id: "", want: createDefaultConfig()},
		{id: "full", want: full},
		{id: "processing", want: processing},
		{id: "bad_severity", wantErr: `errors::min_severity "LOUD": must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (optionally suffixed 2-4) or empty`},
		{id: "bad_condition", wantErr: "errors::conditions[0]: op \"~=\": must be one of ==, !=, >, >=, <, <=, exists\n" +
			`errors::conditions[1]: value "high": op > needs a number`},
		{id: "bad_window_type", wantErr: `window::type "hopping": must be "tumbling" or "sliding"`},
		{id: "bad_step", wantErr: `window::step 2m0s: must be positive and divide window::size 5m0s`},
		{id: "bad_time_source", wantErr: `window::time_source "wall": must be "event" or "processing"`},
		{id: "too_many_buckets", wantErr: `window: size/step + allowed_lateness/step is 3602 buckets; must be at most 1440`},
		{id: "bad_groups", wantErr: "group_by[1] \"service.name\": keys must be non-empty and unique\n" +
			"max_groups 0: must be at least 1\n" +
			"group_expiry 10s: must be at least window::size (1m0s)"},
		{id: "bad_metrics", wantErr: "metrics::prefix: must not be empty\n" +
			`metrics::temporality "gauge": must be "cumulative" or "delta"`},
		{id: "bad_fingerprints", wantErr: "fingerprints::top_n 100: must be between 1 and 50\n" +
			"fingerprints::tracked 10: must be between top_n (100) and 1000\n" +
			"fingerprints::max_length 4: must be at least 16"},
		{id: "bad_rules", wantErr: `alerts::rules[0] "noop": set ratio_threshold (0 < x <= 1) and/or errors_threshold (>= 1)` + "\n" +
			`alerts::rules[1]::name "noop": must be non-empty and unique` + "\n" +
			`alerts::rules[1]::ratio_threshold 1.5: must be between 0 and 1` + "\n" +
			`alerts::rules[1] "noop": fire_after (-1) and resolve_after (0) must be at least 1 (0 means the default)`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			id := component.NewIDWithName(metadata.Type, tt.id)
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
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

func TestRuleDefaults(t *testing.T) {
	r := RuleConfig{Name: "x", RatioThreshold: 0.1}.rule()
	assert.Equal(t, uint64(defaultMinRecords), r.MinRecords)
	assert.Equal(t, defaultFireAfter, r.FireAfter)
	assert.Equal(t, defaultResolveAfter, r.ResolveAfter)
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]int32{"": 0, "error": 17, "ERROR3": 19, "warn": 13, "Fatal4": 24, "trace": 1} {
		got, err := parseSeverity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, int32(got), in)
	}
	_, err := parseSeverity("ERROR5")
	require.Error(t, err)
}
