package tailsamplingprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
)

// keepAllConfig keeps every group, so that every accepted record must come
// out: anything missing was lost.
func keepAllConfig() *Config {
	cfg := baseConfig(errorsPolicy(), PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	cfg.CorrelationAttributes = []string{"request_id"}
	cfg.MaxGroupRecords = 3
	cfg.MaxBufferBytes = 4096
	cfg.MaxGroupBytes = 1024
	cfg.PolicyAttribute = "sampling.policy"
	cfg.DecisionCache = DecisionCacheConfig{KeptSize: 64, DroppedSize: 64} // cheap to create per input
	return cfg
}

// FuzzConsumeLogs feeds arbitrary OTLP logs (as protobuf) through the
// processor: it must not panic, and with a keep-everything policy every
// record must be emitted exactly once.
func FuzzConsumeLogs(f *testing.F) {
	ld := plog.NewLogs()
	addLog(ld, tid(1), 1, withSeverity(plog.SeverityNumberError))
	addLog(ld, tid(1), 2)
	addLog(ld, pcommon.TraceID{}, 3, withLogAttr("request_id", "r"))
	addLog(ld, pcommon.TraceID{}, 4)
	seed, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			return
		}
		sink := new(consumertest.LogsSink)
		p, err := newFactory(newFakeClock().now).CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), keepAllConfig(), sink)
		require.NoError(t, err)
		want := in.LogRecordCount()
		require.NoError(t, p.ConsumeLogs(context.Background(), in))
		require.NoError(t, p.ConsumeLogs(context.Background(), in), "a repeated batch follows the decisions")
		require.NoError(t, p.Shutdown(context.Background()))
		assertDrained(t, p.(*logsProcessor).s)
		require.Equal(t, 2*want, sink.LogRecordCount())
	})
}

// FuzzConsumeTraces is FuzzConsumeLogs for spans.
func FuzzConsumeTraces(f *testing.F) {
	td := spans(tid(1), 3, withError())
	addSpan(td, "db", tid(2), 9)
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("no id")
	seed, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(f, err)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		sink := new(consumertest.TracesSink)
		p, err := newFactory(newFakeClock().now).CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), keepAllConfig(), sink)
		require.NoError(t, err)
		want := in.SpanCount()
		require.NoError(t, p.ConsumeTraces(context.Background(), in))
		require.NoError(t, p.Shutdown(context.Background()))
		assertDrained(t, p.(*tracesProcessor).s)
		require.Equal(t, want, sink.SpanCount())
	})
}
