package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

func newTestHandler(t *testing.T, timeout time.Duration, concurrent int) *Handler {
	t.Helper()
	dir := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	spec := archivetest.Spec{Records: 500, Start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Span: time.Hour, Services: []string{"a", "b"}}
	_, err = archivetest.WriteSpec(dir, layout, spec, archivetest.Options{})
	require.NoError(t, err)
	e, err := query.New(query.Options{Store: archive.NewLocalStore(dir), Layout: layout})
	require.NoError(t, err)
	return NewHandler(Settings{
		Engine: e, Limits: testLimits, QueryTimeout: timeout, MaxConcurrent: concurrent, Logger: zap.NewNop(),
		Now: func() time.Time { return time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC) },
	})
}

func do(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec.Code, body
}

func TestTimeoutIsGatewayTimeout(t *testing.T) {
	h := newTestHandler(t, time.Nanosecond, 1)
	code, body := do(t, h, "/api/v1/search?q=x")
	assert.Equal(t, http.StatusGatewayTimeout, code)
	assert.Equal(t, "query timed out after 1ns; narrow the time range or add filters", body["error"])
}

func TestConcurrencyLimitRejects(t *testing.T) {
	h := newTestHandler(t, 20*time.Millisecond, 1)
	h.sem <- struct{}{} // a query holds the only slot
	code, body := do(t, h, "/api/v1/search")
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Equal(t, "too many concurrent queries; retry later", body["error"])
	<-h.sem
	h.s.QueryTimeout = time.Minute // a loaded machine must not turn this into a timeout
	code, _ = do(t, h, "/api/v1/search")
	assert.Equal(t, http.StatusOK, code)
}

func TestHistogramDefaultsToRecentRange(t *testing.T) {
	h := newTestHandler(t, time.Minute, 1)
	code, body := do(t, h, "/api/v1/histogram?buckets=24")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "2026-02-28T11:00:00Z", body["from"])
	assert.Equal(t, "2026-03-01T11:00:00Z", body["to"])
	assert.EqualValues(t, 500, body["total"])
}

func TestHistogramRangeBelowResolutionIsBadRequest(t *testing.T) {
	h := newTestHandler(t, time.Minute, 1)
	// The archive's first record is at 10:00:00.000000, inside the row
	// filter's microsecond but before from.
	code, body := do(t, h, "/api/v1/histogram?from=2026-03-01T10:00:00.0000005Z&to=2026-03-01T10:00:00.000001Z")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "parameter to must be at least 1µs after from", body["error"])
	code, body = do(t, h, "/api/v1/histogram?from=2026-03-01T10:00:00.0000005Z&to=2026-03-01T10:00:00.0000015Z")
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 1, body["total"])
	assert.Len(t, body["buckets"], 1, "buckets are at least 1 µs wide")
	assert.InDelta(t, 0.001, body["bucket_width_ms"], 1e-12)
}

func TestMethodNotAllowed(t *testing.T) {
	h := newTestHandler(t, time.Minute, 1)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/v1/search", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.JSONEq(t, `{"error":"method DELETE not allowed; the API is read-only (GET)"}`, rec.Body.String())
}
