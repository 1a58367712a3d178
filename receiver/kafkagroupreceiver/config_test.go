package kafkagroupreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		wantErr string
		check   func(t *testing.T, cfg *Config)
	}{
		{name: "", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, createDefaultConfig(), cfg)
			assert.Empty(t, cfg.SeedBrokers())
		}},
		{name: "custom", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, []string{"k1:9092", "k2:9092", "k3:9092"}, cfg.SeedBrokers())
			assert.Equal(t, "otlp-all", cfg.Topic)
			assert.Equal(t, "gateways-eu", cfg.GroupID)
			assert.Equal(t, "gw-1", cfg.ClientID)
			assert.Equal(t, OffsetLatest, cfg.InitialOffset)
			assert.Equal(t, "x-signal", cfg.SignalHeader)
			assert.Equal(t, SignalLogs, cfg.DefaultSignal)
			assert.Equal(t, 6*time.Second, cfg.SessionTimeout)
			assert.Equal(t, 2*time.Second, cfg.HeartbeatInterval)
			assert.Equal(t, 30*time.Second, cfg.RebalanceTimeout)
			assert.Equal(t, 500*time.Millisecond, cfg.CommitInterval)
			assert.Equal(t, 500, cfg.MaxPollRecords)
			assert.Equal(t, 10000, cfg.MaxPendingMessages)
			assert.Equal(t, 50*time.Millisecond, cfg.RetryOnFailure.InitialInterval)
		}},
		{name: "bad_offset", wantErr: `initial_offset: "middle" is not one of "earliest", "latest"`},
		{name: "bad_signal", wantErr: `default_signal: "metrics" is not one of "logs", "traces" or empty`},
		{name: "bad_heartbeat", wantErr: "heartbeat_interval: must be positive and less than session_timeout"},
		{name: "bad_pending", wantErr: "max_pending_messages: must be at least max_poll_records"},
		{name: "empty_topic", wantErr: "topic: must not be empty\ngroup_id: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}
