package esbulkreceiver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

func TestParseFilterPath(t *testing.T) {
	assert.Equal(t, noFilter, parseFilterPath(""))
	assert.Equal(t, responseFilter{errors: true, items: true, itemFields: fieldError | fieldStatus},
		parseFilterPath("errors,items.*.error,items.*.status"))
	assert.Equal(t, responseFilter{took: true, items: true, itemFields: fieldAll}, parseFilterPath("took, items"))
	assert.Equal(t, noFilter, parseFilterPath("items.*.unknown"))
	assert.Equal(t, noFilter, parseFilterPath("-took"))
}

func TestRetryAfterRounding(t *testing.T) {
	for d, want := range map[time.Duration]string{1500 * time.Millisecond: "2", time.Second: "1", 0: ""} {
		cfg := createDefaultConfig().(*Config)
		cfg.RetryAfter = d
		r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
		require.NoError(t, err)
		assert.Equal(t, want, r.retryAfter, "retry_after %s", d)
	}
}

func TestInfoVersion(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Version = "9.1.2"
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	var info struct {
		Version struct {
			Number string `json:"number"`
			Wire   string `json:"minimum_wire_compatibility_version"`
		} `json:"version"`
	}
	require.NoError(t, json.Unmarshal(r.infoBody, &info))
	assert.Equal(t, "9.1.2", info.Version.Number)
	assert.Equal(t, "8.17.0", info.Version.Wire)
}
