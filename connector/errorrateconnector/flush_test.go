package errorrateconnector

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireIncreasingTimestamps fails when two points of one series (metric and
// attributes) share a timestamp or go back in time: Prometheus rejects both.
func requireIncreasingTimestamps(t *testing.T, ps []point) {
	t.Helper()
	last := map[string]time.Time{}
	for _, p := range ps {
		series := p.metric + fmt.Sprint(p.attrs)
		if prev, ok := last[series]; ok {
			require.Truef(t, p.end.After(prev), "%s: point at %v after one at %v", series, p.end.UTC(), prev.UTC())
		}
		last[series] = p.end
	}
}

func TestShutdownOnStepBoundaryRepeatsNoTimestamp(t *testing.T) {
	boundary := t0.Add(time.Minute)
	type closeAt struct {
		end   time.Time
		total int64
	}
	tests := []struct {
		name     string
		lateness time.Duration
		// run feeds records and may close windows before Shutdown at boundary.
		run  func(h *harness)
		want []closeAt
		// ratio, when set, is the window ratio expected at the boundary.
		ratio float64
	}{
		{
			name:     "step ending now already sent, nothing stamped now",
			lateness: 0,
			run: func(h *harness) {
				h.consume(makeLogs(batch("api", t0, 10, 2, userNotFound)...))
				h.at(boundary)
			},
			want: []closeAt{{boundary, 10}},
		},
		{
			name:     "step ending now still open",
			lateness: 0,
			run: func(h *harness) {
				h.consume(makeLogs(batch("api", t0, 10, 2, userNotFound)...))
				h.clock.Set(boundary)
			},
			want: []closeAt{{boundary, 10}},
		},
		{
			name:     "allowed lateness keeps the step ending now open; records stamped now join it",
			ratio:    7.0 / 15,
			lateness: 15 * time.Second,
			run: func(h *harness) {
				h.consume(makeLogs(batch("api", t0.Add(10*time.Second), 10, 2, userNotFound)...))
				h.clock.Set(boundary)
				h.consume(makeLogs(batch("api", boundary, 5, 5, userNotFound)...))
			},
			want: []closeAt{{boundary, 15}},
		},
		{
			name:     "step ending now already sent, records stamped now",
			lateness: 0,
			run: func(h *harness) {
				h.consume(makeLogs(batch("api", t0, 10, 2, userNotFound)...))
				h.clock.Set(boundary)
				// This batch closes 10:00 first, then lands in the step starting now.
				h.consume(makeLogs(batch("api", boundary, 5, 5, userNotFound)...))
			},
			want: []closeAt{{boundary, 10}, {boundary.Add(time.Millisecond), 15}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.Window.AllowedLateness = tt.lateness
			h := newHarness(t, cfg, t0)
			h.start()
			tt.run(h)
			h.shutdown()
			ps := points(h.metrics)
			requireIncreasingTimestamps(t, ps)
			var got []closeAt
			for _, p := range find(ps, "sluice.error_rate.records", map[string]any{"service.name": "api"}) {
				got = append(got, closeAt{p.end.UTC(), p.intVal})
			}
			assert.Equal(t, tt.want, got)
			if tt.ratio > 0 {
				ratios := find(ps, "sluice.error_rate.ratio", map[string]any{"service.name": "api"})
				require.Len(t, ratios, 1)
				assert.Equal(t, boundary, ratios[0].end.UTC())
				assert.InDelta(t, tt.ratio, ratios[0].dblVal, 1e-9)
				fps := find(ps, "sluice.error_rate.fingerprint.errors", map[string]any{"service.name": "api"})
				require.Len(t, fps, 1, "one template")
				assert.Equal(t, int64(7), fps[0].intVal, "the templates of both steps are merged")
			}
		})
	}
}
