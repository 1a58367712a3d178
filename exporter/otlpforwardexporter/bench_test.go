package otlpforwardexporter

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/internal/storagetest"
)

const benchRecordsPerBatch = 200

// benchLogs is one file_tail-like batch: 200 records parsed from JSON lines
// (the line kept as body, its fields as attributes), about 480 bytes each in OTLP.
func benchLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr("k8s.node.name", "ip-10-0-12-34.ec2.internal")
	ra.PutStr("k8s.namespace.name", "shop")
	ra.PutStr("k8s.pod.name", "checkout-7d9f8b6c5-x2k4p")
	ra.PutStr("k8s.container.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("file_tail")
	for i := range benchRecordsPerBatch {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)*1_000_000))
		lr.SetObservedTimestamp(pcommon.Timestamp(1_700_000_000_000_500_000 + int64(i)*1_000_000))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, byte(i >> 8), byte(i)})
		lr.SetSpanID(pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, byte(i)})
		id := strconv.Itoa(100000 + i)
		lr.Body().SetStr(`{"time":"2026-11-21T10:15:03.` + id[3:] + `Z","level":"info","msg":"order placed","order_id":"` + id +
			`","user":"customer-` + id + `","http":{"method":"POST","path":"/api/v1/orders","status":201},"duration_ms":42.7}`)
		a := lr.Attributes()
		a.PutStr("log.file.path", "/var/log/pods/shop_checkout-7d9f8b6c5-x2k4p_1234/checkout/0.log")
		a.PutStr("msg", "order placed")
		a.PutStr("order_id", id)
		a.PutStr("user", "customer-"+id)
		a.PutStr("http.method", "POST")
		a.PutStr("http.path", "/api/v1/orders")
		a.PutInt("http.status", 201)
		a.PutDouble("duration_ms", 42.7)
	}
	ld.MarkReadOnly()
	return ld
}

// rawSink is an OTLP/gRPC server that counts records without decoding them into pdata, so
// the benchmark's CPU figure is dominated by the exporter side.
type rawSink struct {
	addr    string
	records atomic.Int64
}

type rawServerCodec struct{}

func (rawServerCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil } // empty response: full success

func (rawServerCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawServerCodec) Name() string { return "proto" }

func startRawSink(b *testing.B) *rawSink {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	s := &rawSink{addr: lis.Addr().String()}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawServerCodec{}))
	handler := func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var body []byte
		if err := dec(&body); err != nil {
			return nil, err
		}
		n, err := otlpwire.CountRecords(body)
		if err != nil {
			return nil, err
		}
		s.records.Add(int64(n))
		return []byte(nil), nil
	}
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: handler}},
	}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return s
}

// benchQueue is the agent's sending queue: persistent on the given storage when storage is set.
func benchQueue(storage *component.ID) configoptional.Optional[exporterhelper.QueueBatchConfig] {
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = storage
	q.QueueSize = 10_000
	q.BlockOnOverflow = true
	return configoptional.Some(q)
}

func newCoreOTLP(b *testing.B, endpoint string, storage *component.ID) exporter.Logs {
	f := otlpexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpexporter.Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.TLS.Insecure = true
	cfg.ClientConfig.Compression = configcompression.TypeSnappy
	cfg.QueueConfig = benchQueue(storage)
	set := exportertest.NewNopSettings(f.Type())
	exp, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(b, err)
	return exp
}

func newForward(b *testing.B, endpoint string, storage *component.ID) exporter.Logs {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.TLS.Insecure = true
	cfg.ClientConfig.Compression = configcompression.TypeSnappy
	cfg.QueueConfig = benchQueue(storage)
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	return exp
}

// BenchmarkForwardVsOTLP sends 200-record batches through each exporter with the agent's
// sending queue to an in-process gRPC sink and reports process CPU per record (cpu-ns/record;
// the sink's share is small: it only counts records). One op is one batch.
//
//	go test -run '^$' -bench BenchmarkForwardVsOTLP -benchtime 3000x ./exporter/otlpforwardexporter/
func BenchmarkForwardVsOTLP(b *testing.B) {
	cases := []struct {
		name    string
		newExp  func(*testing.B, string, *component.ID) exporter.Logs
		storage string // a persistent queue on this storage extension; "" for the in-memory queue
	}{
		{name: "otlp_grpc/file_storage", newExp: newCoreOTLP, storage: "file_storage"},
		{name: "otlp_forward/file_storage", newExp: newForward, storage: "file_storage"},
		{name: "otlp_forward/journal_storage", newExp: newForward, storage: "journal_storage"},
		{name: "otlp_grpc/memory", newExp: newCoreOTLP},
		{name: "otlp_forward/memory", newExp: newForward},
	}
	ld := benchLogs()
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(b, err)
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			sink := startRawSink(b)
			host := componenttest.NewNopHost()
			var storage *component.ID
			if tc.storage != "" {
				id, ext := startStorage(b, tc.storage, b.TempDir())
				storage = &id
				host = storagetest.Host(id, ext)
				b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })
			}
			exp := tc.newExp(b, sink.addr, storage)
			require.NoError(b, exp.Start(context.Background(), host))

			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Process()
			start := time.Now()
			for range b.N {
				if err := exp.ConsumeLogs(ctx, ld); err != nil {
					b.Fatal(err)
				}
			}
			want := int64(b.N) * benchRecordsPerBatch
			for deadline := time.Now().Add(time.Minute); sink.records.Load() < want; {
				if time.Now().After(deadline) {
					b.Fatalf("sink got %d of %d records", sink.records.Load(), want)
				}
				time.Sleep(200 * time.Microsecond)
			}
			cpu := cputime.Process() - cpu0
			wall := time.Since(start)
			b.StopTimer()
			require.NoError(b, exp.Shutdown(context.Background()))

			records := float64(want)
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
			b.ReportMetric(records/wall.Seconds(), "records/s")
			b.ReportMetric(float64(len(body))/benchRecordsPerBatch, "B/record")
		})
	}
}
