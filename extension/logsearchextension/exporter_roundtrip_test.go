package logsearchextension

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/exporter/parquetexporter"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// archivingExporter starts a real parquet exporter writing under dir
// (archive/ and staging/), without a queue so a push is archived when it
// returns; adjust changes its config first.
func archivingExporter(t *testing.T, dir, writer string, adjust func(*parquetexporter.Config)) (exporter.Logs, *parquetexporter.Config) {
	t.Helper()
	pf := parquetexporter.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*parquetexporter.Config)
	pcfg.Storage.Local.Path = filepath.Join(dir, "archive")
	pcfg.Staging.Directory = filepath.Join(dir, "staging")
	pcfg.WriterID = writer
	pcfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	if adjust != nil {
		adjust(pcfg)
	}
	exp, err := pf.CreateLogs(context.Background(), exportertest.NewNopSettings(pf.Type()), pcfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	return exp, pcfg
}

// TestReadsWhatTheParquetExporterWrites archives logs through the real
// parquet exporter and finds them again with the query engine: the
// contract test between the two components.
func TestReadsWhatTheParquetExporterWrites(t *testing.T) {
	dir := t.TempDir()
	exp, pcfg := archivingExporter(t, dir, "roundtrip", func(pcfg *parquetexporter.Config) {
		pcfg.PromotedAttributes = []parquetexporter.PromotedAttribute{{Key: "http.response.status_code", Type: "int"}}
	})

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	traceID := pcommon.TraceID{0xca, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	ld := plog.NewLogs()
	for s, svc := range []string{"checkout", "payments"} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", svc)
		rl.Resource().Attributes().PutStr("host.name", "node-7")
		sl := rl.ScopeLogs().AppendEmpty()
		for i := 0; i < 200; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i)*time.Minute + time.Duration(s)*time.Second)))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(fmt.Sprintf("%s step %d", svc, i))
			lr.Attributes().PutInt("http.response.status_code", 200)
			lr.Attributes().PutStr("order.id", fmt.Sprintf("o%d", i))
			if i == 150 {
				lr.SetSeverityNumber(plog.SeverityNumberError)
				lr.SetSeverityText("ERROR")
				lr.Body().SetStr(svc + " card Declined by issuer")
				lr.Attributes().PutInt("http.response.status_code", 502)
				lr.SetTraceID(traceID)
			}
		}
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, exp.Shutdown(context.Background()))

	layout, err := logarchive.NewLayout(pcfg.PathTemplate)
	require.NoError(t, err)
	e, err := query.New(query.Options{Store: archive.NewLocalStore(pcfg.Storage.Local.Path), Layout: layout})
	require.NoError(t, err)
	ctx := context.Background()

	res, err := e.Search(ctx, query.Filter{Keyword: "declined", MinSeverity: 17}, 10, nil)
	require.NoError(t, err)
	require.Len(t, res.Records, 2)
	assert.Equal(t, "payments card Declined by issuer", res.Records[0].Body, "newest first")
	assert.Equal(t, "502", res.Records[0].Attributes["http.response.status_code"], "promoted column back under its key")
	assert.Equal(t, "o150", res.Records[0].Attributes["order.id"])
	assert.Equal(t, "node-7", res.Records[0].Resource["host.name"])

	res, err = e.Search(ctx, query.Filter{Attributes: []query.AttributeMatch{{Key: "http.response.status_code", Value: "502"}}, Service: "checkout", HasService: true}, 10, nil)
	require.NoError(t, err)
	require.Len(t, res.Records, 1)
	assert.Equal(t, t0.Add(150*time.Minute), res.Records[0].Timestamp)

	tr, err := e.Trace(ctx, traceID, time.Time{}, time.Time{}, 10)
	require.NoError(t, err)
	require.Len(t, tr.Records, 2)
	assert.Equal(t, "checkout", tr.Records[0].ServiceName)
	assert.Equal(t, "payments", tr.Records[1].ServiceName)
	assert.Equal(t, "cafe0102030405060708090a0b0c0d0e", tr.Records[0].TraceID)

	svcs, err := e.Services(ctx, time.Time{}, time.Time{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"checkout", "payments"}, svcs.Services)

	hist, err := e.Histogram(ctx, query.Filter{From: t0, To: t0.Add(4 * time.Hour)}, 4)
	require.NoError(t, err)
	assert.EqualValues(t, 400, hist.Total)
	assert.EqualValues(t, []int64{0, 0, 0, 120, 0, 0, 0}, hist.Buckets[0].Counts)
}

// A service.name too long for one path segment is archived under a bounded
// partition segment; the service filter and the service list still work
// with the full name.
func TestFindsLongServiceNamesTheParquetExporterWrites(t *testing.T) {
	dir := t.TempDir()
	exp, pcfg := archivingExporter(t, dir, "roundtrip", nil)

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	longA := strings.Repeat("very-long-service-name/", 20) + "a"
	longB := strings.Repeat("very-long-service-name/", 20) + "b"
	services := []string{longA, longB, "short"}
	ld := plog.NewLogs()
	for s, svc := range services {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", svc)
		sl := rl.ScopeLogs().AppendEmpty()
		for i := 0; i <= s; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Minute)))
			lr.Body().SetStr(fmt.Sprintf("record %d of service %d", i, s))
		}
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, exp.Shutdown(context.Background()))

	layout, err := logarchive.NewLayout(pcfg.PathTemplate)
	require.NoError(t, err)
	e, err := query.New(query.Options{Store: archive.NewLocalStore(pcfg.Storage.Local.Path), Layout: layout})
	require.NoError(t, err)
	ctx := context.Background()
	for s, svc := range services {
		res, err := e.Search(ctx, query.Filter{Service: svc, HasService: true}, 10, nil)
		require.NoError(t, err)
		require.Len(t, res.Records, s+1, "records of service %d", s)
		for _, r := range res.Records {
			assert.Equal(t, svc, r.ServiceName)
		}
	}
	res, err := e.Search(ctx, query.Filter{Service: strings.Repeat("very-long-service-name/", 20), HasService: true}, 10, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Records, "a common prefix is not a match")

	svcs, err := e.Services(ctx, time.Time{}, time.Time{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"short", longA, longB}, svcs.Services)
}

// TestEmptyServiceNameIsNoService checks that service= (no service) finds a
// record whose resource has service.name "", which the exporter stores as
// "" rather than null: row-group pruning must treat both alike, as the
// row filter does. Without {service} in the template the file mixes both.
func TestEmptyServiceNameIsNoService(t *testing.T) {
	for _, tmpl := range []string{"", "{signal}/dt={date}/hour={hour}"} {
		t.Run("template="+tmpl, func(t *testing.T) {
			dir := t.TempDir()
			exp, pcfg := archivingExporter(t, dir, "emptyservice", func(pcfg *parquetexporter.Config) {
				if tmpl != "" {
					pcfg.PathTemplate = tmpl
					pcfg.Traces.PathTemplate = "traces/dt={date}/hour={hour}"
				}
			})
			t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			ld := plog.NewLogs()
			for i, svc := range []string{"", "checkout"} {
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("service.name", svc)
				lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Second)))
				lr.Body().SetStr("from " + svc)
			}
			require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
			require.NoError(t, exp.Shutdown(context.Background()))

			layout, err := logarchive.NewLayout(pcfg.PathTemplate)
			require.NoError(t, err)
			e, err := query.New(query.Options{Store: archive.NewLocalStore(pcfg.Storage.Local.Path), Layout: layout})
			require.NoError(t, err)
			res, err := e.Search(context.Background(), query.Filter{HasService: true}, 10, nil)
			require.NoError(t, err)
			require.Len(t, res.Records, 1, "stats %+v", res.Stats)
			assert.Equal(t, "from ", res.Records[0].Body)
			assert.Empty(t, res.Records[0].ServiceName)
		})
	}
}
