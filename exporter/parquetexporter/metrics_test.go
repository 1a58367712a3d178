package parquetexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadatatest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

func TestSelfMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := testConfig(t)
	set := metadatatest.NewSettings(tel)
	e, err := newExporter(cfg, set, logarchive.SignalLogs, func() time.Time { return baseTime })
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	fs := &failingStore{inner: e.store}
	e.publishMu.Lock()
	e.store = fs
	e.publishMu.Unlock()

	require.NoError(t, e.pushLogs(context.Background(), genLogs(300, 0, "a", "b", "c")))
	e.sealAll()
	require.Error(t, e.publishPending(context.Background()))
	fs.mu.Lock()
	fs.healed = true
	fs.mu.Unlock()
	require.NoError(t, e.publishPending(context.Background()))
	require.NoError(t, e.shutdown(context.Background()))

	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualExporterParquetRowsStaged(t, tel, []metricdata.DataPoint[int64]{{Value: 300}}, opts...)
	metadatatest.AssertEqualExporterParquetRowsWritten(t, tel, []metricdata.DataPoint[int64]{{Value: 300}}, opts...)
	metadatatest.AssertEqualExporterParquetFilesWritten(t, tel, []metricdata.DataPoint[int64]{{Value: 3}}, opts...)
	// The background publisher may have failed too before the store healed.
	assert.GreaterOrEqual(t, sumValue(t, tel, "otelcol_exporter_parquet_flush_errors"), int64(1))
	assert.GreaterOrEqual(t, sumValue(t, tel, "otelcol_exporter_parquet_upload_retries"), int64(1))
	metadatatest.AssertEqualExporterParquetStagingSize(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, opts...)

	var written int64
	for _, f := range archiveFiles(t, cfg.Storage.Local.Path) {
		st, err := statSize(f)
		require.NoError(t, err)
		written += st
	}
	metadatatest.AssertEqualExporterParquetBytesWritten(t, tel, []metricdata.DataPoint[int64]{{Value: written}}, opts...)
	assert.Positive(t, written)
}

func sumValue(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is %T", name, m.Data)
	var v int64
	for _, dp := range sum.DataPoints {
		v += dp.Value
	}
	return v
}
