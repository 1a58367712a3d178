// Package api serves the log_search HTTP API and web page: it parses query
// parameters into engine filters, bounds each query in time and
// concurrency, encodes results and errors as JSON, and records self-metrics.
package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
)

// Limits bound what one request may ask for.
type Limits struct {
	// DefaultLimit is the page size when limit is absent.
	DefaultLimit int
	// MaxLimit caps limit.
	MaxLimit int
	// MaxTraceRecords caps the records of one trace timeline.
	MaxTraceRecords int
	// MaxBuckets caps histogram buckets.
	MaxBuckets int
	// DefaultHistogramRange is the histogram range when from is absent.
	DefaultHistogramRange time.Duration
}

const defaultBuckets = 60

// severityNames maps names accepted by the severity parameter to the lowest
// OTel severity number of their range.
var severityNames = map[string]int32{
	"trace": 1, "debug": 5, "info": 9, "warn": 13, "warning": 13, "error": 17, "fatal": 21,
}

// searchRequest is a parsed search or histogram request.
type searchRequest struct {
	filter  query.Filter
	limit   int
	cursor  *query.Cursor
	buckets int
}

// parseSearch parses the parameters shared by search and histogram.
func parseSearch(q url.Values, lim Limits) (searchRequest, error) {
	var r searchRequest
	var err error
	if r.filter.From, err = parseTime(q, "from"); err != nil {
		return r, err
	}
	if r.filter.To, err = parseTime(q, "to"); err != nil {
		return r, err
	}
	if !r.filter.From.IsZero() && !r.filter.To.IsZero() && !r.filter.From.Before(r.filter.To) {
		return r, errors.New("parameter from must be before to")
	}
	if q.Has("service") {
		r.filter.Service, r.filter.HasService = q.Get("service"), true
	}
	if s := q.Get("severity"); s != "" {
		n, ok := severityNames[strings.ToLower(s)]
		if !ok {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v > 24 {
				return r, fmt.Errorf("parameter severity %q must be a number 0-24 or one of trace, debug, info, warn, error, fatal", s)
			}
			n = int32(v)
		}
		r.filter.MinSeverity = n
	}
	if s := q.Get("trace_id"); s != "" {
		id, err := parseTraceID(s)
		if err != nil {
			return r, err
		}
		r.filter.TraceID, r.filter.HasTraceID = id, true
	}
	r.filter.Keyword = strings.TrimSpace(q.Get("q"))
	if len(r.filter.Keyword) > 1024 {
		return r, errors.New("parameter q must be at most 1024 bytes")
	}
	for _, a := range q["attr"] {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return r, fmt.Errorf("parameter attr %q must be key=value", a)
		}
		r.filter.Attributes = append(r.filter.Attributes, query.AttributeMatch{Key: k, Value: v})
	}
	if len(r.filter.Attributes) > 16 {
		return r, errors.New("at most 16 attr parameters are allowed")
	}
	r.limit = lim.DefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > lim.MaxLimit {
			return r, fmt.Errorf("parameter limit %q must be an integer from 1 to %d", s, lim.MaxLimit)
		}
		r.limit = n
	}
	if s := q.Get("cursor"); s != "" {
		c, err := query.ParseCursor(s)
		if err != nil {
			return r, fmt.Errorf("parameter cursor: %w", err)
		}
		r.cursor = &c
	}
	r.buckets = defaultBuckets
	if s := q.Get("buckets"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > lim.MaxBuckets {
			return r, fmt.Errorf("parameter buckets %q must be an integer from 1 to %d", s, lim.MaxBuckets)
		}
		r.buckets = n
	}
	return r, nil
}

// parseTime reads an RFC 3339 time or integer Unix milliseconds.
func parseTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 1<<53 {
			return time.Time{}, fmt.Errorf("parameter %s %q is out of range", name, s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parameter %s %q must be RFC 3339 (2026-03-01T10:00:00Z) or Unix milliseconds", name, s)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("parameter %s %q is out of range", name, s)
	}
	return t.UTC(), nil
}

// parseTraceID reads a trace id as 32 hex digits (W3C / OTLP JSON form).
func parseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 32 {
		return id, fmt.Errorf("trace id %q must be 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(strings.ToLower(s))); err != nil {
		return id, fmt.Errorf("trace id %q must be 32 hex digits", s)
	}
	if id == ([16]byte{}) {
		return id, errors.New("trace id must not be all zeros")
	}
	return id, nil
}
