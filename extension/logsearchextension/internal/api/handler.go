package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadata"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/web"
)

// Settings configure a Handler.
type Settings struct {
	Engine *query.Engine
	Limits Limits
	// QueryTimeout bounds one query, including the wait for a slot.
	QueryTimeout time.Duration
	// MaxConcurrent is the number of queries run at once; more wait for a
	// slot until their timeout, then get 429.
	MaxConcurrent int
	Telemetry     *metadata.TelemetryBuilder
	Logger        *zap.Logger
	// Now is the clock used for default time ranges.
	Now func() time.Time
}

// Handler serves the API under /api/v1/ and the web page at /.
type Handler struct {
	s   Settings
	sem chan struct{}
	mux *http.ServeMux
}

// NewHandler builds the HTTP handler.
func NewHandler(s Settings) *Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	h := &Handler{s: s, sem: make(chan struct{}, max(s.MaxConcurrent, 1)), mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/v1/search", h.query("search", h.search))
	h.mux.HandleFunc("GET /api/v1/histogram", h.query("histogram", h.histogram))
	h.mux.HandleFunc("GET /api/v1/services", h.query("services", h.services))
	h.mux.HandleFunc("GET /api/v1/trace/{trace_id}", h.query("trace", h.trace))
	h.mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no API endpoint "+r.Method+" "+r.URL.Path+"; see GET /api/v1/search, /api/v1/trace/{trace_id}, /api/v1/services, /api/v1/histogram")
	})
	h.mux.Handle("GET /", web.Handler())
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") && r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; the API is read-only (GET)")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// errorResponse is the body of every error.
type errorResponse struct {
	Error string `json:"error"`
}

// badRequest marks an error caused by the request's parameters.
type badRequest struct{ error }

type queryFunc func(ctx context.Context, r *http.Request) (any, query.Stats, error)

// query wraps an endpoint with the timeout, the concurrency limit, JSON
// encoding and self-metrics.
func (h *Handler) query(endpoint string, fn queryFunc) http.HandlerFunc {
	epAttr := attribute.String("endpoint", endpoint)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), h.s.QueryTimeout)
		defer cancel()
		outcome := "ok"
		var st query.Stats
		defer func() {
			h.record(ctx, epAttr, outcome, time.Since(start), st)
		}()
		select {
		case h.sem <- struct{}{}:
		default:
			// All slots busy: wait for one until the query's deadline.
			select {
			case h.sem <- struct{}{}:
			case <-ctx.Done():
				outcome = "rejected"
				writeError(w, http.StatusTooManyRequests, "too many concurrent queries; retry later")
				return
			}
		}
		defer func() { <-h.sem }()
		res, stats, err := fn(ctx, r)
		st = stats
		switch {
		case err == nil:
		case errors.As(err, new(badRequest)):
			outcome = "bad_request"
			writeError(w, http.StatusBadRequest, err.Error())
			return
		case errors.Is(err, context.DeadlineExceeded):
			outcome = "timeout"
			writeError(w, http.StatusGatewayTimeout, "query timed out after "+h.s.QueryTimeout.String()+"; narrow the time range or add filters")
			return
		case errors.Is(err, context.Canceled):
			outcome = "error"
			return // client went away
		default:
			outcome = "error"
			h.s.Logger.Warn("log search query failed", zap.String("endpoint", endpoint), zap.Error(err))
			writeError(w, http.StatusInternalServerError, "query failed: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(res)
	}
}

func (h *Handler) record(ctx context.Context, ep attribute.KeyValue, outcome string, d time.Duration, st query.Stats) {
	tb := h.s.Telemetry
	if tb == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	tb.ExtensionLogSearchQueries.Add(ctx, 1, metric.WithAttributes(ep, attribute.String("outcome", outcome)))
	tb.ExtensionLogSearchQueryDuration.Record(ctx, float64(d.Microseconds())/1000, metric.WithAttributes(ep))
	tb.ExtensionLogSearchFilesScanned.Add(ctx, int64(st.FilesScanned))
	tb.ExtensionLogSearchRowGroupsScanned.Add(ctx, int64(st.RowGroupsScanned))
	skip := func(c metric.Int64Counter, n int, reason string) {
		if n > 0 {
			c.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
		}
	}
	skip(tb.ExtensionLogSearchFilesSkipped, st.FilesSkippedPartition, "partition")
	skip(tb.ExtensionLogSearchFilesSkipped, st.FilesSkippedStatistics, "statistics")
	skip(tb.ExtensionLogSearchFilesSkipped, st.FilesSkippedMissing, "missing")
	skip(tb.ExtensionLogSearchFilesSkipped, st.FilesSkippedLimit, "limit")
	skip(tb.ExtensionLogSearchRowGroupsSkipped, st.RowGroupsSkippedStatistics, "statistics")
	skip(tb.ExtensionLogSearchRowGroupsSkipped, st.RowGroupsSkippedBloom, "bloom_filter")
	skip(tb.ExtensionLogSearchRowGroupsSkipped, st.RowGroupsSkippedLimit, "limit")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorResponse{Error: msg})
}

// SearchResponse is the body of GET /api/v1/search.
type SearchResponse struct {
	Records    []query.Record `json:"records"`
	NextCursor string         `json:"next_cursor,omitempty"`
	TookMillis float64        `json:"took_ms"`
	Stats      query.Stats    `json:"stats"`
}

func (h *Handler) search(ctx context.Context, r *http.Request) (any, query.Stats, error) {
	start := time.Now()
	req, err := parseSearch(r.URL.Query(), h.s.Limits)
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	res, err := h.s.Engine.Search(ctx, req.filter, req.limit, req.cursor)
	if err != nil {
		return nil, query.Stats{}, err
	}
	out := SearchResponse{Records: res.Records, Stats: res.Stats, TookMillis: millis(time.Since(start))}
	if out.Records == nil {
		out.Records = []query.Record{}
	}
	if res.Next != nil {
		out.NextCursor = res.Next.Encode()
	}
	return out, res.Stats, nil
}

// TraceResponse is the body of GET /api/v1/trace/{trace_id}.
type TraceResponse struct {
	TraceID   string         `json:"trace_id"`
	Services  []string       `json:"services"`
	Start     *time.Time     `json:"start,omitempty"`
	End       *time.Time     `json:"end,omitempty"`
	Records   []query.Record `json:"records"`
	Truncated bool           `json:"truncated"`
	TookMs    float64        `json:"took_ms"`
	Stats     query.Stats    `json:"stats"`
}

func (h *Handler) trace(ctx context.Context, r *http.Request) (any, query.Stats, error) {
	start := time.Now()
	id, err := parseTraceID(r.PathValue("trace_id"))
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	q := r.URL.Query()
	from, err := parseTime(q, "from")
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	to, err := parseTime(q, "to")
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	res, err := h.s.Engine.Trace(ctx, id, from, to, h.s.Limits.MaxTraceRecords)
	if err != nil {
		return nil, query.Stats{}, err
	}
	out := TraceResponse{TraceID: hex.EncodeToString(id[:]), Records: res.Records, Truncated: res.Truncated, Stats: res.Stats, Services: []string{}}
	if out.Records == nil {
		out.Records = []query.Record{}
	}
	seen := map[string]bool{}
	for _, rec := range res.Records {
		if !seen[rec.ServiceName] {
			seen[rec.ServiceName] = true
			out.Services = append(out.Services, rec.ServiceName)
		}
	}
	if n := len(res.Records); n > 0 {
		s, e := res.Records[0].Timestamp, res.Records[n-1].Timestamp
		out.Start, out.End = &s, &e
	}
	out.TookMs = millis(time.Since(start))
	return out, res.Stats, nil
}

// ServicesResponse is the body of GET /api/v1/services.
type ServicesResponse struct {
	Services []string    `json:"services"`
	Stats    query.Stats `json:"stats"`
}

func (h *Handler) services(ctx context.Context, r *http.Request) (any, query.Stats, error) {
	q := r.URL.Query()
	from, err := parseTime(q, "from")
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	to, err := parseTime(q, "to")
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	res, err := h.s.Engine.Services(ctx, from, to, maxServices)
	if err != nil {
		return nil, query.Stats{}, err
	}
	out := ServicesResponse{Services: res.Services, Stats: res.Stats}
	if out.Services == nil {
		out.Services = []string{}
	}
	return out, res.Stats, nil
}

// maxServices bounds the services listed.
const maxServices = 10000

// HistogramResponse is the body of GET /api/v1/histogram.
type HistogramResponse struct {
	From          time.Time      `json:"from"`
	To            time.Time      `json:"to"`
	BucketWidthMs float64        `json:"bucket_width_ms"`
	Severities    []string       `json:"severities"`
	Buckets       []query.Bucket `json:"buckets"`
	Total         int64          `json:"total"`
	TookMs        float64        `json:"took_ms"`
	Stats         query.Stats    `json:"stats"`
}

func (h *Handler) histogram(ctx context.Context, r *http.Request) (any, query.Stats, error) {
	start := time.Now()
	req, err := parseSearch(r.URL.Query(), h.s.Limits)
	if err != nil {
		return nil, query.Stats{}, badRequest{err}
	}
	f := req.filter
	if f.To.IsZero() {
		f.To = h.s.Now().UTC()
	}
	if f.From.IsZero() {
		f.From = f.To.Add(-h.s.Limits.DefaultHistogramRange)
	}
	if !f.From.Before(f.To) {
		return nil, query.Stats{}, badRequest{errors.New("parameter from must be before to")}
	}
	if f.To.Sub(f.From) < query.HistogramResolution {
		// Buckets are counted on microsecond timestamps.
		return nil, query.Stats{}, badRequest{fmt.Errorf("parameter to must be at least %v after from", query.HistogramResolution)}
	}
	res, err := h.s.Engine.Histogram(ctx, f, req.buckets)
	if err != nil {
		return nil, query.Stats{}, err
	}
	return HistogramResponse{
		From: res.From, To: res.To, BucketWidthMs: res.WidthMillis, Severities: query.SeverityClasses,
		Buckets: res.Buckets, Total: res.Total, Stats: res.Stats, TookMs: millis(time.Since(start)),
	}, res.Stats, nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
