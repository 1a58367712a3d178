package errorrateconnector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
	"github.com/sluicelogs/sluice/internal/storagetest"
)

func storageHost(t *testing.T, kind string) (component.ID, component.Host) {
	t.Helper()
	id, ext := storagetest.Start(t, kind, t.TempDir(), "")
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return id, storagetest.Host(id, ext)
}

// alertStates returns the sluice.alert.state of each event of service.
func alertStates(h *harness, service string) []string {
	var out []string
	for _, lr := range alertEvents(h.alerts) {
		if svc, _ := lr.Attributes().Get("service.name"); svc.Str() == service {
			st, _ := lr.Attributes().Get("sluice.alert.state")
			out = append(out, st.Str())
		}
	}
	return out
}

func TestAlertStateSurvivesRestart(t *testing.T) {
	for _, kind := range storagetest.Kinds {
		t.Run(kind, func(t *testing.T) { testAlertStateSurvivesRestart(t, kind) })
	}
}

func testAlertStateSurvivesRestart(t *testing.T, kind string) {
	id, host := storageHost(t, kind)
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	cfg.GroupBy = []string{"service.name", "shard"}
	cfg.Alerts.Rules = []RuleConfig{{Name: "high_error_ratio", RatioThreshold: 0.5, MinRecords: 1, FireAfter: 1, ResolveAfter: 2}}
	cfg.Storage = &id
	// run starts a connector at from and feeds one minute per entry of errs
	// (errors out of 10 records of service api, shard 7), closing each.
	run := func(from time.Time, errs ...int) *harness {
		h := newHarness(t, cfg, from)
		h.startOn(host)
		for m, e := range errs {
			at := from.Add(time.Duration(m) * time.Minute)
			recs := batch("api", at, 10, e, userNotFound)
			for i := range recs {
				recs[i].attrs = map[string]any{"shard": int64(7)}
			}
			h.consume(makeLogs(recs...))
			h.at(at.Add(time.Minute))
		}
		h.clock.Set(from.Add(time.Duration(len(errs))*time.Minute + 30*time.Second))
		h.shutdown()
		return h
	}

	h := run(t0, 10)
	require.Equal(t, []string{"firing"}, alertStates(h, "api"))

	// Restarted during the incident: still breaching fires nothing new, and
	// the recovery is announced.
	h = run(t0.Add(5*time.Minute), 10, 0, 0)
	assert.Equal(t, []string{"resolved"}, alertStates(h, "api"))
	events := alertEvents(h.alerts)
	require.Len(t, events, 1)
	shard, _ := events[0].Attributes().Get("shard")
	assert.Equal(t, int64(7), shard.Int(), "the group's attributes keep their type")

	// Restarted after the recovery: a new breach fires again.
	h = run(t0.Add(10*time.Minute), 10)
	assert.Equal(t, []string{"firing"}, alertStates(h, "api"))
}

func TestAlertStateOfOtherGroupByIgnored(t *testing.T) {
	id, host := storageHost(t, "file_storage")
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	cfg.Alerts.Rules = []RuleConfig{{Name: "high_error_ratio", RatioThreshold: 0.5, MinRecords: 1, FireAfter: 1}}
	cfg.Storage = &id
	h := newHarness(t, cfg, t0)
	h.startOn(host)
	h.consume(makeLogs(batch("api", t0, 10, 10, userNotFound)...))
	h.at(t0.Add(time.Minute))
	h.shutdown()
	require.Equal(t, []string{"firing"}, alertStates(h, "api"))

	// Same values under another key: applying the state would be wrong.
	other := *cfg
	other.GroupBy = []string{"app"}
	h = newHarness(t, &other, t0.Add(5*time.Minute))
	h.startOn(host)
	recs := batch("api", t0.Add(5*time.Minute), 10, 10, userNotFound)
	for i := range recs {
		recs[i].attrs = map[string]any{"app": "api"}
	}
	h.consume(makeLogs(recs...))
	h.at(t0.Add(6 * time.Minute))
	events := alertEvents(h.alerts)
	require.Len(t, events, 1, "state stored for another group_by is not applied")
	app, _ := events[0].Attributes().Get("app")
	assert.Equal(t, "api", app.Str())
}

func TestStorageExtensionMissing(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Alerts.Rules = []RuleConfig{{Name: "r", RatioThreshold: 0.5}}
	missing := component.MustNewID("file_storage")
	cfg.Storage = &missing
	ctx := context.Background()
	c, err := NewFactory().CreateLogsToLogs(ctx, connectortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	require.EqualError(t, c.Start(ctx, componenttest.NewNopHost()), `storage: extension "file_storage" not found`)
	require.NoError(t, c.Shutdown(ctx))
}
