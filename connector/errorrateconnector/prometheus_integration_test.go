package errorrateconnector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	prwexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// TestPrometheusRateOfCumulativeSums sends the connector's metrics through the
// prometheus_remote_write exporter into a real Prometheus and checks that
// PromQL rate() over the cumulative sums gives the error ratio and record rate
// that were generated: the sums' start times and monotonic values are what
// Prometheus needs.
func TestPrometheusRateOfCumulativeSums(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts Prometheus")
	}
	prom := backend.PrometheusFor(t)
	ctx := context.Background()

	expFactory := prwexporter.NewFactory()
	expCfg := expFactory.CreateDefaultConfig().(*prwexporter.Config)
	expCfg.ClientConfig.Endpoint = prom.RemoteWriteURL
	expCfg.TargetInfo.Enabled = false
	// The exporter does not close idle connections on Shutdown; with a shared Prometheus that outlives the
	// test they would stay open and goleak would flag their goroutines.
	expCfg.ClientConfig.DisableKeepAlives = true
	// A per-test label keeps runs against a shared Prometheus apart.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	expCfg.ExternalLabels = map[string]string{"sluice_test_run": run}
	exp, err := expFactory.CreateMetrics(ctx, exportertest.NewNopSettings(expFactory.Type()), expCfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, componenttest.NewNopHost()))

	// Fifteen minutes of traffic ending a few minutes ago, replayed through the
	// fake clock: checkout 120 records/min with 10 % errors, search 60/min with 5 %.
	const minutes = 15
	begin := time.Now().Add(-(minutes + 3) * time.Minute).Truncate(time.Minute)
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	clock := newFakeClock(begin)
	cctx := contextWithClock(ctx, clock)
	conn, err := NewFactory().CreateLogsToMetrics(cctx, connectortest.NewNopSettings(metadata.Type), cfg, exp)
	require.NoError(t, err)
	agg := conn.(*node).agg
	for m := range minutes {
		at := begin.Add(time.Duration(m) * time.Minute)
		clock.Set(at)
		recs := append(batch("checkout", at.Add(time.Second), 120, 12, userNotFound),
			batch("search", at.Add(2*time.Second), 60, 3, userNotFound)...)
		require.NoError(t, conn.ConsumeLogs(ctx, makeLogs(recs...)))
		clock.Set(at.Add(time.Minute))
		agg.tick()
	}
	require.NoError(t, conn.Shutdown(ctx))
	require.NoError(t, exp.Shutdown(ctx)) // drains the remote-write queue

	evalAt := begin.Add(minutes * time.Minute)
	sel := fmt.Sprintf(`{sluice_test_run=%q}`, run)
	ratioQuery := fmt.Sprintf(`sum by (service_name) (rate(sluice_error_rate_errors_total%s[5m])) / sum by (service_name) (rate(sluice_error_rate_records_total%s[5m]))`, sel, sel)
	rateQuery := fmt.Sprintf(`sum by (service_name) (rate(sluice_error_rate_records_total%s[5m]))`, sel)

	var ratios map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		ratios = promQuery(t, prom.URL, ratioQuery, evalAt)
		if len(ratios) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // remote write lands asynchronously in the head block
	}
	require.Len(t, ratios, 2, "series for both services; query %s", ratioQuery)
	require.InDelta(t, 0.10, ratios["checkout"], 1e-9)
	require.InDelta(t, 0.05, ratios["search"], 1e-9)

	rates := promQuery(t, prom.URL, rateQuery, evalAt)
	require.InDelta(t, 2.0, rates["checkout"], 0.2, "120 records/min") // rate() extrapolates at the range edges
	require.InDelta(t, 1.0, rates["search"], 0.1, "60 records/min")

	gauge := promQuery(t, prom.URL, fmt.Sprintf(`sluice_error_rate_ratio%s`, sel), evalAt)
	require.InDelta(t, 0.10, gauge["checkout"], 1e-9, "the window ratio gauge agrees")
}

// promQuery runs an instant query and returns value by service_name.
func promQuery(t *testing.T, base, query string, at time.Time) map[string]float64 {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() {
		resp.Body.Close()
		// A shared Prometheus outlives the test: drop the keep-alive connection so goleak sees no reader left.
		http.DefaultClient.CloseIdleConnections()
	}()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, body.Error)
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		out[r.Metric["service_name"]] = v
	}
	return out
}
