package piimaskprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	enabledFalse := false

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{
			name: "full",
			want: &Config{
				DefaultAction: "partial",
				Detectors: map[string]DetectorConfig{
					"email": {Action: "hash"},
					"phone": {Enabled: &enabledFalse},
					"ipv4":  {Action: "partial"},
				},
				CustomDetectors: []CustomDetectorConfig{
					{Name: "employee_id", Regex: `EMP-\d{6}`, Context: []string{"employee"}, Action: "redact"},
					{Name: "loyalty_card", Regex: `\b\d{16}\b`, Validator: "luhn"},
				},
				RedactTemplate:     "<{detector}>",
				Hash:               HashConfig{KeyEnv: "SLUICE_PII_HASH_KEY", KeyID: "2026-01"},
				MaskKeys:           []string{"user.name", "x-session"},
				MaskKeysAction:     "hash",
				AllowKeys:          []string{"trace_id"},
				IDKeys:             []string{"order_ref", "x-b3-traceid"},
				DetectorsAttribute: "pii.detectors",
				MaxValueBytes:      65536,
				MaxDepth:           8,
			},
		},
		{name: "no_id_keys", want: func() *Config {
			cfg := createDefaultConfig().(*Config)
			cfg.IDKeys = []string{}
			return cfg
		}()},
		{name: "bad_id_keys", wantErr: `id_keys::1: "._" is empty without the separators . _ -`},
		{name: "unknown_detector", wantErr: `detectors: unknown detector "credit_card"; allowed: email, payment_card, us_ssn, phone, ipv4, ipv6, iban, jwt, bearer_token, aws_access_key, aws_secret_key, github_token, gitlab_token, slack_token, stripe_key, google_api_key, private_key, secret_kv, url_credentials`},
		{name: "bad_action", wantErr: `detectors::email::action: unknown action "scramble"; allowed: redact, partial, hash, drop`},
		{name: "bad_default_action", wantErr: `default_action: unknown action "mangle"; allowed: redact, partial, hash, drop`},
		{name: "bad_regex", wantErr: "custom_detectors::0::regex: error parsing regexp: missing closing ): `(abc`"},
		{name: "empty_match_regex", wantErr: "custom_detectors::0::regex: must not match the empty string"},
		{name: "bad_custom", wantErr: `custom_detectors::0::name: "Employee-ID" must be lower_snake_case, 1-64 characters` + "\n" +
			`custom_detectors::0::validator: unknown validator "crc32"; allowed: none, luhn, mod97` + "\n" +
			`custom_detectors::1::name: "email" is a built-in detector; configure it under detectors`},
		{name: "duplicate_custom", wantErr: `custom_detectors::1::name: "emp" is used twice`},
		{name: "hash_without_key", wantErr: "hash: a detector uses action hash; set hash::key_env or hash::key_file\n" +
			"hash::key_id: must be set when a detector uses action hash"},
		{name: "hash_two_keys", wantErr: "hash: set only one of hash::key_env and hash::key_file"},
		{name: "bad_limits", wantErr: "max_value_bytes: must be positive, got 0\nmax_depth: must be positive, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestUnknownKeyIsRejected(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "full").String())
	require.NoError(t, err)
	require.NoError(t, sub.Merge(confmap.NewFromStringMap(map[string]any{"detector": map[string]any{}})))
	cfg := createDefaultConfig()
	err = sub.Unmarshal(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid keys: detector")
}
