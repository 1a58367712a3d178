package otlpwire

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/testbed/loadgen"
)

// reportPerSpan reports wall and process CPU time per span; on a shared
// machine the CPU figure is the steadier one. (The log-record figures, on
// the agent's real lines, are in testbed/agentbench's BenchmarkAgentStages.)
func reportPerSpan(b *testing.B, cpu0 int64, spans int) {
	n := float64(b.N * spans)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/span")
	b.ReportMetric(float64(cputime.Process().Nanoseconds()-cpu0)/n, "cpu-ns/span")
}

// benchSpans is one request of 100 server spans, the tail-sampling
// benchmarks' load.
func benchSpans() ptrace.Traces { return loadgen.ServerSpanRequest(0, 1) }

// BenchmarkEncodeTraces: per span, encoding straight from pdata.
func BenchmarkEncodeTraces(b *testing.B) {
	td := benchSpans()
	var batch Batch
	b.ReportAllocs()
	cpu0 := cputime.Process().Nanoseconds()
	for b.Loop() {
		batch.EncodeTraces(td)
	}
	reportPerSpan(b, cpu0, td.SpanCount())
}

// BenchmarkPdataMarshal: per span, pdata's own marshaler alone, which the
// encoder replaced (the former path also split its output afterwards).
func BenchmarkPdataMarshal(b *testing.B) {
	td := benchSpans()
	m := &ptrace.ProtoMarshaler{}
	b.ReportAllocs()
	cpu0 := cputime.Process().Nanoseconds()
	for b.Loop() {
		if _, err := m.MarshalTraces(td); err != nil {
			b.Fatal(err)
		}
	}
	reportPerSpan(b, cpu0, td.SpanCount())
}
