package tailsamplingprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.MustNewIDWithName(metadata.Type.String(), name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadValidConfig(t *testing.T) {
	cfg := loadConfig(t, "errors_and_five_percent")
	require.NoError(t, xconfmap.Validate(cfg))
	assert.Equal(t, 5*time.Second, cfg.DecisionWait)
	assert.Equal(t, int64(defaultMaxBufferBytes), cfg.MaxBufferBytes)
	assert.Equal(t, []string{"correlation_id", "request_id", "http.request.header.x-request-id"}, cfg.CorrelationAttributes)
	require.Len(t, cfg.Policies, 2)
	// Defaults of list elements come from PolicyConfig.Unmarshal.
	assert.Equal(t, decisionKeep, cfg.Policies[0].Decision)
	assert.Equal(t, ErrorsConfig{
		MinSeverity:          "error",
		SpanStatus:           true,
		MinHTTPStatus:        500,
		HTTPStatusAttributes: []string{"http.response.status_code", "http.status_code"},
	}, cfg.Policies[0].Errors)
	assert.InDelta(t, 5.0, cfg.Policies[1].Probabilistic.Percentage, 0)

	all := loadConfig(t, "everything")
	require.NoError(t, xconfmap.Validate(all))
	assert.Equal(t, decisionDrop, all.Policies[0].Decision)
	assert.Equal(t, ErrorsConfig{MinSeverity: "warn", MinHTTPStatus: 429, HTTPStatusAttributes: []string{"status"}}, all.Policies[1].Errors)
	assert.Equal(t, LatencyConfig{Threshold: 2 * time.Second, Attribute: "duration_ms", AttributeUnit: "ms"}, all.Policies[2].Latency)
	assert.Equal(t, PerKeyMinimumConfig{Keys: []string{"service.name", "http.route"}, MinGroups: 2, Interval: 30 * time.Second, MaxKeys: 500}, all.Policies[6].PerKeyMinimum)
	assert.Equal(t, UngroupedConfig{Action: ungroupedSample, SamplingPercentage: 10}, all.Ungrouped)
	assert.Equal(t, DecisionCacheConfig{KeptSize: 1000}, all.DecisionCache)
	_, err := compilePolicies(all.Policies)
	require.NoError(t, err)
}

func TestLoadInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{
			name: "no_policies",
			want: "policies: at least one policy is required",
		},
		{
			name: "bad_top_level",
			want: "decision_wait: must be > 0, got 0s\n" +
				"max_group_bytes: must be > 0 and <= max_buffer_bytes (1000), got 2000\n" +
				"ungrouped.action: must be one of pass, sample; got \"forward\"\n" +
				"default_decision: must be one of keep, drop; got \"maybe\"",
		},
		{
			name: "bad_policies",
			want: "policies[0].probabilistic.percentage: must be in (0, 100], got 150\n" +
				"policies[1].name: duplicate name \"p\"\n" +
				"policies[1].latency.threshold: must be > 0, got 0s\n" +
				"policies[2].name: must not be empty\n" +
				"policies[2].type: must be one of errors, latency, attribute, probabilistic, rate_limit, per_key_minimum, always, never; got \"sometimes\"\n" +
				"policies[3].attribute.regex: error parsing regexp: missing closing ): `(`\n" +
				"policies[3].attribute: set exactly one of values, regex, min/max, bool (got 2)\n" +
				"policies[4].per_key_minimum.keys: must name at least one attribute\n" +
				"policies[4].per_key_minimum.min_groups: must be > 0, got 0\n" +
				"policies[5].decision: must be one of keep, drop; got \"maybe\"\n" +
				"policies[5].rate_limit.groups_per_second: must be > 0, got 0\n" +
				"policies[6].errors.min_severity: must be one of trace, debug, info, warn, error, fatal, none; got \"loud\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, tt.name)
			require.EqualError(t, cfg.Validate(), tt.want)
		})
	}
}

func TestDefaultConfigNeedsAPolicy(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.EqualError(t, cfg.Validate(), "policies: at least one policy is required")
	cfg.Policies = []PolicyConfig{{Name: "all", Type: policyAlways, Decision: decisionKeep}}
	require.NoError(t, cfg.Validate())
}

func TestValidateOtherBounds(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Policies = []PolicyConfig{
		{Name: "default_decision", Type: policyAlways, Decision: decisionKeep},
		{Name: "e", Type: policyErrors, Decision: decisionKeep, Errors: ErrorsConfig{MinSeverity: "none", MinHTTPStatus: 1000}},
		{Name: "e2", Type: policyErrors, Decision: decisionKeep, Errors: ErrorsConfig{MinSeverity: "none"}},
		{Name: "a", Type: policyAttribute, Decision: decisionKeep, Attribute: AttributeConfig{Min: ptr(5.0), Max: ptr(1.0)}},
		{Name: "l", Type: policyLatency, Decision: decisionKeep, Latency: LatencyConfig{Threshold: time.Second, AttributeUnit: "h"}},
	}
	cfg.MaxGroups = 0
	cfg.MaxGroupRecords = -1
	cfg.CorrelationAttributes = []string{""}
	cfg.Ungrouped.SamplingPercentage = 101
	cfg.DecisionCache = DecisionCacheConfig{KeptSize: -1, DroppedSize: -2}
	require.EqualError(t, cfg.Validate(),
		"max_groups: must be > 0, got 0\n"+
			"max_group_records: must be > 0, got -1\n"+
			"correlation_attributes[0]: must not be empty\n"+
			"ungrouped.sampling_percentage: must be in [0, 100], got 101\n"+
			"decision_cache.kept_size: must be >= 0, got -1\n"+
			"decision_cache.dropped_size: must be >= 0, got -2\n"+
			"policies[0].name: \"default_decision\" is reserved for the default decision\n"+
			"policies[1].errors.min_http_status: must be in [0, 999] (0 disables), got 1000\n"+
			"policies[1].errors.http_status_attributes: must not be empty when min_http_status is set\n"+
			"policies[2].errors: matches nothing: set min_severity, span_status or min_http_status\n"+
			"policies[3].attribute.key: must not be empty\n"+
			"policies[3].attribute.min: must be <= max (1), got 5\n"+
			"policies[4].latency.attribute_unit: must be one of ns, us, ms, s; got \"h\"")
	cfg.Policies = make([]PolicyConfig, maxPolicies+1)
	for i := range cfg.Policies {
		cfg.Policies[i] = PolicyConfig{Name: string(rune('A' + i)), Type: policyAlways, Decision: decisionKeep}
	}
	cfg.MaxGroups, cfg.MaxGroupRecords, cfg.CorrelationAttributes = 1, 1, nil
	cfg.Ungrouped.SamplingPercentage, cfg.DecisionCache = 0, DecisionCacheConfig{}
	require.EqualError(t, cfg.Validate(), "policies: at most 64 policies, got 65")
}

func ptr[T any](v T) *T { return &v }
