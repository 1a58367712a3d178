package errorrateconnector

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
	"github.com/sluicelogs/sluice/internal/cputime"
)

// benchLogs builds one batch: groups resources (one service each) with
// perGroup records, every errEvery-th an error with a variable message.
func benchLogs(groups, perGroup, errEvery int, at time.Time) plog.Logs {
	ld := plog.NewLogs()
	ts := pcommon.NewTimestampFromTime(at)
	n := 0
	for g := range groups {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("service-%04d", g))
		rl.Resource().Attributes().PutStr("host.name", "node-1")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for range perGroup {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(ts)
			lr.Attributes().PutStr("http.route", "/api/v1/orders")
			lr.Attributes().PutInt("http.response.status_code", 200)
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr("GET /api/v1/orders 200 12ms")
			if n%errEvery == 0 {
				lr.SetSeverityNumber(plog.SeverityNumberError)
				lr.Body().SetStr(fmt.Sprintf("order %d failed: dial tcp 10.0.3.%d:5432: connection refused", n, n%250))
			}
			n++
		}
	}
	return ld
}

// BenchmarkConsumeLogs measures the per-record cost of counting at 1k groups
// (1% errors, fingerprints on). Reports records/s and ns/record.
func BenchmarkConsumeLogs(b *testing.B) {
	for _, groups := range []int{10, 1000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			cfg := createDefaultConfig()
			cfg.MaxGroups = groups
			clock := newFakeClock(t0.Add(10 * time.Second))
			ctx := contextWithClock(context.Background(), clock)
			c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Shutdown(ctx) }()
			ld := benchLogs(groups, 10_000/groups, 100, t0.Add(5*time.Second))
			records := ld.LogRecordCount()
			b.ReportAllocs()
			cpuBefore := cputime.Process()
			b.ResetTimer()
			for b.Loop() {
				if err := c.ConsumeLogs(ctx, ld); err != nil {
					b.Fatal(err)
				}
			}
			perRecord := float64(b.Elapsed().Nanoseconds()) / float64(b.N*records)
			b.ReportMetric(perRecord, "ns/record")
			b.ReportMetric(1e9/perRecord, "records/s")
			// CPU time per record stays meaningful when other processes share the cores.
			b.ReportMetric(float64((cputime.Process()-cpuBefore).Nanoseconds())/float64(b.N*records), "cpu-ns/record")
		})
	}
}

// BenchmarkWindowClose measures closing one window for 1k groups and building
// its metrics (sums, ratio, top templates).
func BenchmarkWindowClose(b *testing.B) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	clock := newFakeClock(t0)
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Shutdown(ctx) }()
	agg := c.(*node).agg
	b.ReportAllocs()
	minute := 0
	for b.Loop() {
		b.StopTimer()
		at := t0.Add(time.Duration(minute) * time.Minute)
		clock.Set(at)
		_ = c.ConsumeLogs(ctx, benchLogs(1000, 2, 10, at))
		clock.Set(at.Add(time.Minute))
		b.StartTimer()
		agg.tick()
		minute++
	}
}

// BenchmarkMemoryPerGroup reports the heap held per tracked group (default
// config: tumbling 1m window, 15s lateness, fingerprints on, one error
// template per group).
func BenchmarkMemoryPerGroup(b *testing.B) {
	const groups = 1000
	for b.Loop() {
		cfg := createDefaultConfig()
		cfg.MaxGroups = groups
		clock := newFakeClock(t0.Add(10 * time.Second))
		ctx := contextWithClock(context.Background(), clock)
		ld := benchLogs(groups, 2, 2, t0.Add(5*time.Second))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		_ = c.ConsumeLogs(ctx, ld)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/groups, "B/group")
		runtime.KeepAlive(ld)
		_ = c.Shutdown(ctx)
	}
}
