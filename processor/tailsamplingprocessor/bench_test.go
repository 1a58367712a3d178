package tailsamplingprocessor

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
	"github.com/sluicelogs/sluice/testbed/loadgen"
)

const (
	benchSpansPerTrace = loadgen.ServerSpansPerTrace
	benchTracesPerReq  = loadgen.ServerSpanTraces // a trace's 5 spans arrive in 5 requests
)

// benchBatch is one request of realistic server spans (testbed/loadgen, the
// load tscompare runs too), read-only as a receiver hands it over.
func benchBatch(first uint64, spanIdx int) ptrace.Traces {
	td := loadgen.ServerSpanRequest(first, spanIdx)
	td.MarkReadOnly()
	return td
}

// benchBatches prepares requests covering n traces (5 requests per 100 traces).
func benchBatches(n int) []ptrace.Traces { return benchBatchesFrom(0, n) }

// benchBatchesFrom is benchBatches for the trace ids from base on.
func benchBatchesFrom(base uint64, n int) []ptrace.Traces {
	var out []ptrace.Traces
	for first := 0; first < n; first += benchTracesPerReq {
		for s := range benchSpansPerTrace {
			out = append(out, benchBatch(base+uint64(first), s))
		}
	}
	return out
}

// cpuMeter adds up process CPU time (user + system, all threads, GC
// included) over the timed sections of a benchmark. On a shared machine it
// is a steadier measure of cost than wall-clock ns/op.
type cpuMeter struct {
	b     *testing.B
	total time.Duration
	since time.Duration
}

func (m *cpuMeter) start() { m.b.StartTimer(); m.since = cputime.Process() }

func (m *cpuMeter) stop() { m.total += cputime.Process() - m.since; m.b.StopTimer() }

func benchConfig() *Config {
	// The comparison setup: errors + 10 % probabilistic.
	cfg := baseConfig(errorsPolicy(), PolicyConfig{Name: "ten-percent", Type: policyProbabilistic, Decision: decisionKeep, Probabilistic: ProbabilisticConfig{Percentage: 10}})
	cfg.DecisionWait = 5 * time.Second
	cfg.MaxBufferBytes = 4 << 30
	cfg.MaxGroupBytes = 1 << 20
	cfg.MaxGroups = 10_000_000
	return cfg
}

func benchProcessor(b *testing.B, cfg *Config, clock *fakeClock) (processor.Traces, *sampler) {
	p, err := newFactory(clock.now).CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	return p, p.(*tracesProcessor).s
}

// BenchmarkBuffer measures the cost of buffering one span (ns/op is per
// span); decisions run outside the timer.
func BenchmarkBuffer(b *testing.B) {
	clock := newFakeClock()
	cfg := benchConfig()
	cfg.DecisionCache = DecisionCacheConfig{} // ids repeat between passes: no late records
	p, s := benchProcessor(b, cfg, clock)
	// Few fixtures: a large pdata fixture would make the garbage collector's
	// scanning of test data dominate the measurement.
	batches := benchBatches(2_000)
	ctx := context.Background()
	cpu := &cpuMeter{b: b}
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	spans := 0
	for i := 0; spans < b.N; i++ {
		if i%len(batches) == 0 && i > 0 {
			clock.advance(time.Hour)
			s.decideDue(ctx) // start from an empty buffer; ids repeat
		}
		cpu.start()
		end := min(i+len(batches)-i%len(batches), i+1000)
		for ; i < end && spans < b.N; i++ {
			td := batches[i%len(batches)]
			if err := p.ConsumeTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
			spans += td.SpanCount()
		}
		i--
		cpu.stop()
	}
	b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(spans), "cpu-ns/span")
}

// BenchmarkDecide measures deciding one group of 5 spans (ns/op is per
// group), including re-encoding and forwarding the kept ones (~12 %).
func BenchmarkDecide(b *testing.B) { benchDecide(b, benchConfig()) }

// BenchmarkDecideDropped is BenchmarkDecide with every group dropped: the
// decision alone (policies, decision cache, releasing the group's memory),
// without rebuilding and forwarding kept records.
func BenchmarkDecideDropped(b *testing.B) {
	cfg := benchConfig()
	cfg.Policies = []PolicyConfig{{Name: "none", Type: policyNever, Decision: decisionDrop}}
	benchDecide(b, cfg)
}

// benchDecide buffers fresh trace ids every round (outside the timer) and
// times deciding them. With ids repeated, the decision cache would answer
// for them and later rounds would decide nothing. Ids start at 1: an
// all-zero trace id is no trace id.
func benchDecide(b *testing.B, cfg *Config) {
	clock := newFakeClock()
	p, s := benchProcessor(b, cfg, clock)
	ctx := context.Background()
	const groupsPerRound = 20_000
	cpu := &cpuMeter{b: b}
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	decided := 0
	for round := uint64(0); decided < b.N; round++ {
		for _, td := range benchBatchesFrom(1+round*groupsPerRound, groupsPerRound) {
			if err := p.ConsumeTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
		}
		if got := s.groupCount(); got != groupsPerRound {
			b.Fatalf("round %d buffered %d groups, want %d", round, got, groupsPerRound)
		}
		clock.advance(time.Hour)
		runtime.GC() // do not bill buffering's garbage to deciding
		cpu.start()
		s.decideDue(ctx)
		cpu.stop()
		decided += groupsPerRound
	}
	b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(decided), "cpu-ns/group")
}

// BenchmarkSteadyState runs the load shape: traces of 5 spans,
// decision_wait 5 s, errors + 10 %, at 20k spans/s of simulated time, and
// reports throughput and the memory retained per buffered span, measured
// (heap growth, including the decision caches) and as accounted against
// max_buffer_bytes. Requests are built outside the timer with fresh ids.
func BenchmarkSteadyState(b *testing.B) {
	clock := newFakeClock()
	p, s := benchProcessor(b, benchConfig(), clock)
	ctx := context.Background()
	// 20k spans/s = 200 requests of 100 spans per second: 5 ms per request.
	const perRequest = 5 * time.Millisecond
	baseline := liveHeap()
	cpu := &cpuMeter{b: b}
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	spans := 0
	var heapPerSpan, acctPerSpan float64
	const chunk = 20 // requests per timed section: 100 ms of simulated time
	for i := 0; spans < b.N || i <= 3000; {
		tds := make([]ptrace.Traces, chunk)
		for j := range tds {
			round := (i + j) / benchSpansPerTrace
			tds[j] = benchBatch(uint64(round*benchTracesPerReq), (i+j)%benchSpansPerTrace)
		}
		if i == 3000 { // 15 s in: the buffer holds 5 s worth, caches and size estimates are warm
			heapPerSpan, acctPerSpan = measureRetained(s, baseline)
		}
		cpu.start()
		for _, td := range tds {
			if err := p.ConsumeTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
			spans += td.SpanCount()
			clock.advance(perRequest)
		}
		s.decideDue(ctx) // the ticker: every 100 ms of simulated time
		cpu.stop()
		i += chunk
	}
	b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(spans), "cpu-ns/span")
	b.ReportMetric(1e9*float64(spans)/float64(cpu.total.Nanoseconds()), "spans/cpu-s")
	b.ReportMetric(heapPerSpan, "heap-B/buffered-span")
	b.ReportMetric(acctPerSpan, "accounted-B/buffered-span")
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// measureRetained returns the heap growth since baseline and the accounted
// bytes, per buffered span.
func measureRetained(s *sampler, baseline uint64) (heap, accounted float64) {
	live := liveHeap()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.groups.All() {
		n += g.recordCount()
	}
	if n == 0 {
		return 0, 0
	}
	return (float64(live) - float64(baseline)) / float64(n), float64(s.buffered) / float64(n)
}
