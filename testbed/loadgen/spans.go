package loadgen

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The shape of ServerSpanRequest: every trace has ServerSpansPerTrace spans,
// and one request carries one span of each of ServerSpanTraces traces.
const (
	ServerSpansPerTrace = 5
	ServerSpanTraces    = 100
)

// ServerSpanRequest builds one OTLP request of realistic HTTP server spans
// (6 resource and 6 span attributes, ~280 bytes each on the wire): span
// spanIdx (0 to ServerSpansPerTrace-1, the first being the root) of traces
// first to first+ServerSpanTraces-1, so that a trace's spans arrive in
// different requests as they do from real services. One trace in 50 fails:
// its last span has status error. The tail-sampling benchmarks and the
// tscompare side-by-side run share it, so their figures describe the same
// load.
func ServerSpanRequest(first uint64, spanIdx int) ptrace.Traces {
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
	for i := range uint64(ServerSpanTraces) {
		sp := ss.Spans().AppendEmpty()
		var id pcommon.TraceID
		binary.BigEndian.PutUint64(id[:8], (first+i)*0x9E3779B97F4A7C15)
		binary.BigEndian.PutUint64(id[8:], first+i)
		sp.SetTraceID(id)
		sp.SetSpanID(serverSpanID(spanIdx))
		if spanIdx > 0 {
			sp.SetParentSpanID(serverSpanID(spanIdx - 1))
		}
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
		if (first+i)%50 == 0 && spanIdx == ServerSpansPerTrace-1 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

func serverSpanID(spanIdx int) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], uint64(spanIdx)+1)
	return id
}
