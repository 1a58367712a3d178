package agentbench

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/s2"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/internal/lognormalize"
	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/internal/snappyframe"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor"
	"github.com/sluicelogs/sluice/testbed/loadgen"
)

// stageLines is the batch each stage handles: about what file_tail reads in
// one 200 ms poll at 10k lines/s.
const stageLines = 2000

// BenchmarkAgentStages measures, per line, the CPU of each stage a tailed
// line goes through in the shipped agent, on the agentbench line shape, in
// one process — a breakdown the agent's own profiles, taken at 20 % of a core
// on this VM, do not give reliably:
//   - parse: JSON → log record as file_tail does (lognormalize, file
//     attributes), building the pdata batch;
//   - pii_mask: the agent's masking config on a parsed batch;
//   - encode: the batch → OTLP request bytes (otlp_forward; encode_pdata is
//     pdata's marshaler on the same batch, for comparison only);
//   - frame: compressing the request once into gRPC's snappy framed stream,
//     which otlp_forward stores in the queue and sends as is (the agent's
//     compression: snappy);
//   - queue_compress / queue_decompress / grpc_snappy: for comparison, the
//     path of other compressions (and of the agent before session 6): S2 on
//     the queue item, then gRPC's own snappy of the decompressed request.
//
// Not included: reading the file, the storage's writes and reads of queue
// items, gRPC itself, and the garbage collector's background work.
//
// go test -run '^$' -bench BenchmarkAgentStages -benchtime 30x ./testbed/agentbench/
func BenchmarkAgentStages(b *testing.B) {
	var lines [][]byte
	for i := range stageLines {
		l := loadgen.AppendAppLogLine(nil, "stages", i, time.Now())
		lines = append(lines, bytes.TrimSuffix(l, []byte("\n")))
	}
	norm := lognormalize.New()
	parse := func() plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		records := rl.ScopeLogs().AppendEmpty().LogRecords()
		now := pcommon.NewTimestampFromTime(time.Now())
		for _, l := range lines {
			lr := records.AppendEmpty()
			if _, err := norm.Normalize(l, lr, rl.Resource().Attributes()); err != nil {
				b.Fatal(err)
			}
			lr.SetObservedTimestamp(now)
			lr.Attributes().PutStr("log.file.path", "/var/log/pods/shop_checkout-7d9f8b6c5-x2k4p_0/app/0.log")
			lr.Attributes().PutStr("log.file.name", "0.log")
		}
		return ld
	}
	mask := agentMasker(b)

	// stage runs fn b.N times and reports the CPU it used per line; prepare,
	// when set, runs before each call outside the measurement.
	stage := func(name string, prepare, fn func()) {
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				if prepare != nil {
					prepare()
				}
				c0 := cputime.Process()
				fn()
				cpu += cputime.Process() - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*stageLines), "cpu-ns/line")
		})
	}
	stage("parse", nil, func() { parse() })
	var ld plog.Logs
	stage("pii_mask", func() { ld = parse() }, func() {
		if err := mask.ConsumeLogs(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
	})
	// The later stages work on one masked batch, whichever stages -bench selects.
	ld = parse()
	if err := mask.ConsumeLogs(context.Background(), ld); err != nil {
		b.Fatal(err)
	}
	var batch otlpwire.Batch
	batch.EncodeLogs(ld)
	body := batch.AppendData(nil)
	stage("encode", nil, func() {
		batch.EncodeLogs(ld)
		body = batch.AppendData(make([]byte, 0, batch.DataSize()))
	})
	// For comparison, not part of the agent: pdata's marshaler on the same batch.
	stage("encode_pdata", nil, func() {
		if _, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto(); err != nil {
			b.Fatal(err)
		}
	})
	var framed []byte
	stage("frame", nil, func() { framed = snappyframe.Append(framed[:0], body) })
	item := s2.Encode(nil, body)
	back := append([]byte(nil), body...)
	stage("queue_compress", nil, func() { item = s2.Encode(item[:0], body) })
	stage("queue_decompress", nil, func() {
		var err error
		if back, err = s2.Decode(back[:0], item); err != nil {
			b.Fatal(err)
		}
	})
	w := snappy.NewBufferedWriter(io.Discard)
	var wire bytes.Buffer
	stage("grpc_snappy", nil, func() {
		wire.Reset()
		w.Reset(&wire)
		if _, err := w.Write(back); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Logf("bytes per line: JSON %d, OTLP %d, queue item %d, on the wire %d",
		len(bytes.Join(lines, nil))/stageLines, len(body)/stageLines, len(item)/stageLines, wire.Len()/stageLines)
}

// agentMasker is pii_mask with configs/agent.yaml's settings, forwarding
// to a sink that drops what it gets.
func agentMasker(b *testing.B) interface {
	ConsumeLogs(context.Context, plog.Logs) error
} {
	f := piimaskprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	err := confmap.NewFromStringMap(map[string]any{
		"default_action": "redact",
		"detectors": map[string]any{
			"payment_card": map[string]any{"action": "partial"},
			"ipv4":         map[string]any{"action": "partial"},
		},
	}).Unmarshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	return p
}
