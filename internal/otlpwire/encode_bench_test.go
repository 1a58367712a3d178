package otlpwire

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/cputime"
)

// reportPerSpan reports wall and process CPU time per span; on a shared
// machine the CPU figure is the steadier one.
func reportPerSpan(b *testing.B, cpu0 int64, spans int) { reportPer(b, cpu0, spans, "span") }

func reportPer(b *testing.B, cpu0 int64, records int, unit string) {
	n := float64(b.N * records)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/"+unit)
	b.ReportMetric(float64(cputime.Process().Nanoseconds()-cpu0)/n, "cpu-ns/"+unit)
}

// benchSpans is one request of 100 server spans with 6 resource and 6 span
// attributes (the processor benchmarks' shape).
func benchSpans() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.version", "1.42.0")
	ra.PutStr("host.name", "ip-10-0-12-34.ec2.internal")
	ra.PutStr("k8s.pod.name", "checkout-7d9f8b6c5-x2k4p")
	ra.PutStr("k8s.namespace.name", "shop")
	ra.PutStr("deployment.environment", "production")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.60.0")
	for i := range 100 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
		sp.SetParentSpanID(pcommon.SpanID{9, 2, 3, 4, 5, 6, 7, byte(i)})
		sp.SetName("GET /api/v1/orders/{id}")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(1_700_000_000_000_000_000)
		sp.SetEndTimestamp(1_700_000_000_012_000_000)
		a := sp.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/v1/orders/{id}")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("url.path", "/api/v1/orders/918273")
		a.PutStr("server.address", "checkout.shop.svc")
		a.PutStr("network.protocol.version", "1.1")
	}
	return td
}

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

// benchLogs is a batch of 1000 log records shaped like the agent's tailed
// JSON lines after normalization: a body and a dozen string attributes.
func benchLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("k8s.node.name", "node-1")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 1000 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
		lr.SetObservedTimestamp(pcommon.Timestamp(1_700_000_000_000_100_000 + i))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr(fmt.Sprintf("login succeeded for user%d@example.com from 81.78.%d.%d", i, i%256, i/256))
		lr.SetTraceID(pcommon.TraceID{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
		a := lr.Attributes()
		a.PutStr("logger", "http.access")
		a.PutStr("http.method", "GET")
		a.PutStr("http.route", "/api/v1/items/{id}")
		a.PutInt("http.status_code", 200)
		a.PutInt("duration_ms", int64(i%900))
		a.PutStr("client.ip", fmt.Sprintf("81.78.%d.***", i%256))
		a.PutStr("user.email", "[REDACTED:email]")
		a.PutStr("request.id", fmt.Sprintf("req-%012x", i))
		a.PutStr("sluice.test.id", fmt.Sprintf("run-%d", i))
		a.PutStr("log.file.path", "/var/log/pods/shop_checkout-7d9f8b6c5-x2k4p_0/app/0.log")
	}
	return ld
}

// BenchmarkLogsRequest: per record, a whole logs batch to request bytes, as
// the otlp_forward exporter does (encode, then AppendData into a buffer of
// DataSize).
func BenchmarkLogsRequest(b *testing.B) {
	ld := benchLogs()
	var batch Batch
	b.ReportAllocs()
	cpu0 := cputime.Process().Nanoseconds()
	for b.Loop() {
		batch.EncodeLogs(ld)
		_ = batch.AppendData(make([]byte, 0, batch.DataSize()))
	}
	reportPer(b, cpu0, ld.LogRecordCount(), "record")
}

// BenchmarkPdataLogsRequest: per record, pdata's marshaler on the same batch.
func BenchmarkPdataLogsRequest(b *testing.B) {
	ld := benchLogs()
	b.ReportAllocs()
	cpu0 := cputime.Process().Nanoseconds()
	for b.Loop() {
		if _, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto(); err != nil {
			b.Fatal(err)
		}
	}
	reportPer(b, cpu0, ld.LogRecordCount(), "record")
}
