package kafkagroupreceiver

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

// FuzzHandlePartition feeds arbitrary message values and signal headers
// through decoding and delivery: no panic, every message either delivered
// or dead-lettered, and the batch always finishes (its offset committable).
func FuzzHandlePartition(f *testing.F) {
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
	logsBytes, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("s")
	spanBytes, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	f.Add(logsBytes, "logs", spanBytes, "traces")
	f.Add([]byte{0xff, 0x01}, "logs", []byte{}, "")
	f.Add(logsBytes, "traces", spanBytes, "metrics")
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x08}, "logs", []byte{0x0a}, "traces")

	cfg := createDefaultConfig().(*Config)
	r, err := newGroupReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	if err != nil {
		f.Fatal(err)
	}
	defer r.tel.Shutdown()
	logs, traces := new(consumertest.LogsSink), new(consumertest.TracesSink)
	r.setLogs(logs)
	r.setTraces(traces)
	r.tracker.assign(cfg.Topic, []int32{0})

	var offset int64
	f.Fuzz(func(t *testing.T, v1 []byte, h1 string, v2 []byte, h2 string) {
		recs := []*kgo.Record{
			{Topic: cfg.Topic, Offset: offset, Value: v1, Headers: []kgo.RecordHeader{{Key: cfg.SignalHeader, Value: []byte(h1)}}},
			{Topic: cfg.Topic, Offset: offset + 1, Value: v2, Headers: []kgo.RecordHeader{{Key: cfg.SignalHeader, Value: []byte(h2)}}},
		}
		offset += 2
		r.handlePartition(context.Background(), 0, recs)
		if n := r.tracker.pendingMessages(); n != 0 {
			t.Fatalf("%d messages left pending after delivery to synchronous sinks", n)
		}
		if got := r.tracker.uncommitted(); got[cfg.Topic][0].Offset != offset {
			t.Fatalf("commit position %v, want %d", got, offset)
		}
	})
}
