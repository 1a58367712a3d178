package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
)

var testLimits = Limits{DefaultLimit: 100, MaxLimit: 1000, MaxTraceRecords: 100, MaxBuckets: 500, DefaultHistogramRange: 24 * time.Hour}

func TestParseSearch(t *testing.T) {
	q, err := url.ParseQuery("q=+Timeout+&from=2026-03-01T10:00:00Z&to=1772362800000&service=&severity=WARN&trace_id=0AF7651916CD43DD8448EB211C80319C&attr=http.route=/a=b&attr=k=&limit=7&buckets=12")
	require.NoError(t, err)
	r, err := parseSearch(q, testLimits)
	require.NoError(t, err)
	assert.Equal(t, "Timeout", r.filter.Keyword)
	assert.Equal(t, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), r.filter.From)
	assert.Equal(t, time.UnixMilli(1772362800000).UTC(), r.filter.To)
	assert.True(t, r.filter.HasService)
	assert.Empty(t, r.filter.Service)
	assert.Equal(t, int32(13), r.filter.MinSeverity)
	assert.True(t, r.filter.HasTraceID)
	assert.Equal(t, byte(0x0a), r.filter.TraceID[0])
	assert.Equal(t, []query.AttributeMatch{{Key: "http.route", Value: "/a=b"}, {Key: "k", Value: ""}}, r.filter.Attributes)
	assert.Equal(t, 7, r.limit)
	assert.Equal(t, 12, r.buckets)

	r, err = parseSearch(url.Values{}, testLimits)
	require.NoError(t, err)
	assert.Equal(t, 100, r.limit)
	assert.Equal(t, defaultBuckets, r.buckets)
	assert.False(t, r.filter.HasService)
}

func TestParseSearchErrors(t *testing.T) {
	tests := map[string]string{
		"severity=25":               `parameter severity "25" must be a number 0-24 or one of trace, debug, info, warn, error, fatal`,
		"from=2026-13-01T00:00:00Z": `parameter from "2026-13-01T00:00:00Z" must be RFC 3339 (2026-03-01T10:00:00Z) or Unix milliseconds`,
		"to=-5":                     `parameter to "-5" is out of range`,
		"from=1000&to=1000":         "parameter from must be before to",
		"trace_id=00000000000000000000000000000000": "trace id must not be all zeros",
		"trace_id=zz": `trace id "zz" must be 32 hex digits`,
		"limit=1001":  `parameter limit "1001" must be an integer from 1 to 1000`,
		"buckets=x":   `parameter buckets "x" must be an integer from 1 to 500`,
		"attr==v":     `parameter attr "=v" must be key=value`,
		"cursor=YWJj": "parameter cursor: cursor is malformed",
	}
	for raw, want := range tests {
		q, err := url.ParseQuery(raw)
		require.NoError(t, err)
		_, err = parseSearch(q, testLimits)
		assert.EqualError(t, err, want, raw)
	}
}

// FuzzParseSearch checks that no query string makes the parser panic and
// that accepted requests respect the limits.
func FuzzParseSearch(f *testing.F) {
	f.Add("q=error&from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&service=checkout&severity=warn&limit=10")
	f.Add("trace_id=0af7651916cd43dd8448eb211c80319c&attr=a=b&attr=c=d&buckets=60")
	f.Add("cursor=MTc3MjM2MjgwMDAwMDAwMHwxMnxsb2dzL2EucGFycXVldA&from=0&to=99999999999999")
	f.Add("severity=%00&limit=-1&from=9999-12-31T23:59:59.999999999Z")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := parseSearch(q, testLimits)
		if err != nil {
			return
		}
		if r.limit < 1 || r.limit > testLimits.MaxLimit || r.buckets < 1 || r.buckets > testLimits.MaxBuckets {
			t.Fatalf("limits not enforced: %+v", r)
		}
		if !r.filter.From.IsZero() && !r.filter.To.IsZero() && !r.filter.From.Before(r.filter.To) {
			t.Fatalf("from %v not before to %v", r.filter.From, r.filter.To)
		}
		if r.filter.MinSeverity < 0 || r.filter.MinSeverity > 24 {
			t.Fatalf("severity %d", r.filter.MinSeverity)
		}
	})
}

// FuzzParseCursor checks cursor decoding never panics and round-trips.
func FuzzParseCursor(f *testing.F) {
	f.Add(query.Cursor{TimeMicros: 1772362800000000, File: "logs/service=a/dt=2026-03-01/hour=10/w-00000000000000000001.parquet", Row: 12}.Encode())
	f.Add("")
	f.Add("fHw")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := query.ParseCursor(s)
		if err != nil {
			return
		}
		back, err := query.ParseCursor(c.Encode())
		if err != nil || back != c {
			t.Fatalf("round trip %+v -> %+v, %v", c, back, err)
		}
	})
}
