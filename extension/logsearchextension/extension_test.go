package logsearchextension

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/api"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadatatest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// testArchiveSpec is 3000 records over the last three hours (relative to
// now, so the page's default range covers them).
func testArchiveSpec(now time.Time) archivetest.Spec {
	return archivetest.Spec{
		Records: 3000, Start: now.Add(-3 * time.Hour).Truncate(time.Second), Span: 3 * time.Hour,
		Services: []string{"checkout", "payments", "frontend"}, TraceEvery: 3,
		Keyword: "DECLINED", KeywordEvery: 50,
	}
}

func freeEndpoint(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startExtension writes an archive and starts log_search over it.
func startExtension(t testing.TB, tt *componenttest.Telemetry) (baseURL string, spec archivetest.Spec) {
	dir := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	spec = testArchiveSpec(time.Now().UTC())
	_, err = archivetest.WriteSpec(dir, layout, spec, archivetest.Options{RowGroupRows: 200})
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = freeEndpoint(t)
	cfg.Storage.Local.Path = dir
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tt), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return "http://" + cfg.NetAddr.Endpoint, spec
}

func getJSON(t testing.TB, u string, status int, out any) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, string(body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.Unmarshal(body, out), string(body))
}

func TestAPIOverHTTP(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	base, spec := startExtension(t, tt)
	from := spec.Start.Format(time.RFC3339)
	to := spec.Start.Add(spec.Span).Format(time.RFC3339)

	// Keyword + severity + service, newest first, paged.
	var page1, page2 api.SearchResponse
	q := url.Values{"q": {"declined"}, "service": {"checkout"}, "from": {from}, "to": {to}, "limit": {"5"}}
	getJSON(t, base+"/api/v1/search?"+q.Encode(), http.StatusOK, &page1)
	require.Len(t, page1.Records, 5)
	require.NotEmpty(t, page1.NextCursor)
	for i, r := range page1.Records {
		assert.Equal(t, "checkout", r.ServiceName)
		assert.Contains(t, r.Body, "DECLINED")
		if i > 0 {
			assert.False(t, r.Timestamp.After(page1.Records[i-1].Timestamp), "newest first")
		}
	}
	q.Set("cursor", page1.NextCursor)
	getJSON(t, base+"/api/v1/search?"+q.Encode(), http.StatusOK, &page2)
	require.NotEmpty(t, page2.Records)
	assert.True(t, page2.Records[0].Timestamp.Before(page1.Records[4].Timestamp))

	// The newest matching record from the generator, computed independently.
	var newest archivetest.Row
	for i := 0; i < spec.Records; i++ {
		if r := spec.Row(i); r.Service == "checkout" && strings.Contains(r.Body, "DECLINED") {
			newest = r
		}
	}
	assert.Equal(t, newest.Body, page1.Records[0].Body)
	assert.Equal(t, newest.Attributes["user.id"], page1.Records[0].Attributes["user.id"])

	// Attribute filter and severity name.
	var attrRes api.SearchResponse
	getJSON(t, base+"/api/v1/search?"+url.Values{"attr": {"user.id=u50"}, "severity": {"error"}, "limit": {"1000"}}.Encode(), http.StatusOK, &attrRes)
	want := 0
	for i := 0; i < spec.Records; i++ {
		if r := spec.Row(i); r.Attributes["user.id"] == "u50" && r.Severity >= 17 {
			want++
		}
	}
	assert.Len(t, attrRes.Records, want)
	assert.Empty(t, attrRes.NextCursor)

	// Trace timeline across services, oldest first.
	id := archivetest.TraceID(100)
	var tr api.TraceResponse
	getJSON(t, base+"/api/v1/trace/"+hex.EncodeToString(id[:]), http.StatusOK, &tr)
	require.Len(t, tr.Records, 3)
	assert.ElementsMatch(t, []string{"checkout", "payments", "frontend"}, tr.Services)
	for i := 1; i < 3; i++ {
		assert.False(t, tr.Records[i].Timestamp.Before(tr.Records[i-1].Timestamp))
	}
	assert.Positive(t, tr.Stats.RowGroupsSkippedBloom)

	// Services and histogram.
	var svc api.ServicesResponse
	getJSON(t, base+"/api/v1/services", http.StatusOK, &svc)
	assert.Equal(t, []string{"checkout", "frontend", "payments"}, svc.Services)
	var hist api.HistogramResponse
	getJSON(t, base+"/api/v1/histogram?"+url.Values{"from": {from}, "to": {to}, "buckets": {"3"}, "severity": {"warn"}}.Encode(), http.StatusOK, &hist)
	require.Len(t, hist.Buckets, 3)
	var warnPlus int64
	for i := 0; i < spec.Records; i++ {
		if spec.Row(i).Severity >= 13 {
			warnPlus++
		}
	}
	assert.Equal(t, warnPlus, hist.Total)
	assert.Equal(t, []string{"unspecified", "trace", "debug", "info", "warn", "error", "fatal"}, hist.Severities)
	assert.InDelta(t, float64(time.Hour.Milliseconds()), hist.BucketWidthMs, 1)

	// Errors are JSON with a clear message.
	errorCases := []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/search?severity=loud", 400, `parameter severity "loud" must be a number 0-24 or one of trace, debug, info, warn, error, fatal`},
		{"/api/v1/search?from=yesterday", 400, `parameter from "yesterday" must be RFC 3339 (2026-03-01T10:00:00Z) or Unix milliseconds`},
		{"/api/v1/search?limit=0", 400, `parameter limit "0" must be an integer from 1 to 1000`},
		{"/api/v1/search?attr=novalue", 400, `parameter attr "novalue" must be key=value`},
		{"/api/v1/search?cursor=%21", 400, "parameter cursor: cursor is not valid base64url"},
		{"/api/v1/trace/xyz", 400, `trace id "xyz" must be 32 hex digits`},
		{"/api/v1/histogram?from=2026-03-01T10:00:00Z&to=2026-03-01T09:00:00Z", 400, "parameter from must be before to"},
		{"/api/v2/search", 404, "no API endpoint GET /api/v2/search; see GET /api/v1/search, /api/v1/trace/{trace_id}, /api/v1/services, /api/v1/histogram"},
	}
	for _, c := range errorCases {
		var e struct{ Error string }
		getJSON(t, base+c.path, c.status, &e)
		assert.Equal(t, c.msg, e.Error, c.path)
	}
	resp, err := http.Post(base+"/api/v1/search", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// Self-metrics: one data point per endpoint and outcome.
	ok := func(ep string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(attribute.String("endpoint", ep), attribute.String("outcome", "ok"))}
	}
	bad := func(ep string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(attribute.String("endpoint", ep), attribute.String("outcome", "bad_request"))}
	}
	metadatatest.AssertEqualExtensionLogSearchQueries(t, tt, []metricdata.DataPoint[int64]{
		ok("search", 3), ok("trace", 1), ok("services", 1), ok("histogram", 1),
		bad("search", 5), bad("trace", 1), bad("histogram", 1),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	m, err := tt.GetMetric("otelcol_extension_log_search_row_groups_skipped")
	require.NoError(t, err)
	reasons := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		reasons[r.AsString()] += dp.Value
	}
	assert.Positive(t, reasons["bloom_filter"], "trace lookup skipped row groups by bloom filter")
	m, err = tt.GetMetric("otelcol_extension_log_search_files_skipped")
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if r, _ := dp.Attributes.Value("reason"); r.AsString() == "limit" {
			reasons["limit"] += dp.Value // files left unread count as well
		}
	}
	assert.Positive(t, reasons["limit"], "paged search stopped early")
	m, err = tt.GetMetric("otelcol_extension_log_search_files_scanned")
	require.NoError(t, err)
	assert.Positive(t, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
}

func TestPageIsServed(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	base, _ := startExtension(t, tt)
	for path, want := range map[string]string{"/": "<title>Sluice log search</title>", "/app.js": "api/v1/search", "/style.css": ".hist-bar"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Contains(t, string(body), want, path)
	}
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, ext.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
}

func TestStartFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = ln.Addr().String()
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("log_search: listen on %s", cfg.NetAddr.Endpoint))
	require.NoError(t, ext.Shutdown(context.Background()))
}
