package otlpforwardexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
)

// sumOf returns the value of a single-point int64 counter, 0 when it was never
// recorded.
func sumOf(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	return total
}

// Records the server rejects in a partial success are not delivered and are
// not retried (OTLP forbids it): they must be counted, not only logged.
func TestPartialSuccessRejectedRecordsAreCounted(t *testing.T) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	srv.setReply(func(int) (int64, error) { return 3, nil })
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()

	logsExp, err := NewFactory().CreateLogs(context.Background(), set, testConfig(srv.addr))
	require.NoError(t, err)
	require.NoError(t, logsExp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, logsExp.ConsumeLogs(context.Background(), sampleLogs(10)))
	require.NoError(t, logsExp.Shutdown(context.Background()))
	assert.Equal(t, int64(3), sumOf(t, tel, "otelcol_otlp_forward_rejected_log_records"))

	srv.setReply(func(int) (int64, error) { return 2, nil })
	tracesExp, err := NewFactory().CreateTraces(context.Background(), set, testConfig(srv.addr))
	require.NoError(t, err)
	require.NoError(t, tracesExp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tracesExp.ConsumeTraces(context.Background(), sampleTraces(4)))
	require.NoError(t, tracesExp.Shutdown(context.Background()))
	assert.Equal(t, int64(2), sumOf(t, tel, "otelcol_otlp_forward_rejected_spans"))
}
