package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicelogs/sluice/testbed/validate"
)

// SDKConfig shapes a realistic run through the OpenTelemetry Go SDK.
type SDKConfig struct {
	// Endpoint is the collector's OTLP gRPC host:port (insecure).
	Endpoint string
	// Requests is how many user requests to simulate (each emits 4–6 logs and 4 spans).
	Requests int
	// Rate is requests per second; 0 means as fast as possible.
	Rate float64
	// FailureRate is the fraction of requests that fail (default 0.03).
	FailureRate float64
	// Seed makes the run reproducible.
	Seed uint64
	// RunID prefixes every id so concurrent runs never collide.
	RunID string
}

// SDKResult is what an SDK run sent and the exporter saw acknowledged.
type SDKResult struct {
	// Logs and Spans hold the ids of records the collector acknowledged.
	Logs, Spans *validate.Multiset
	// LogsByTrace lists each trace's log ids (hex trace id → ids); failed traces in Failed.
	LogsByTrace map[string][]string
	// SpansByTrace lists each trace's span ids.
	SpansByTrace map[string][]string
	Failed       map[string]bool
	// PII lists the sensitive values planted in bodies and attributes, so a
	// validator can assert none reaches an output.
	PII []string
	// ExportErrors counts export calls that failed after the SDK's retries.
	ExportErrors int
}

// services of the simulated shop, called in this order by every request.
var services = []string{"frontend", "checkout", "payments", "inventory"}

// RunSDK sends cfg.Requests simulated requests and returns the acknowledged ids.
func RunSDK(ctx context.Context, cfg SDKConfig) (*SDKResult, error) {
	if cfg.FailureRate == 0 {
		cfg.FailureRate = 0.03
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	res := &SDKResult{
		Logs:         validate.NewMultiset(cfg.RunID + "-l"),
		Spans:        validate.NewMultiset(cfg.RunID + "-s"),
		LogsByTrace:  map[string][]string{},
		SpansByTrace: map[string][]string{},
		Failed:       map[string]bool{},
	}
	ack := &ackRecorder{res: res}
	tracers := make(map[string]trace.Tracer, len(services))
	loggers := make(map[string]otellog.Logger, len(services))
	var shutdowns []func(context.Context) error
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range shutdowns {
			_ = s(sctx)
		}
	}()
	for _, svc := range services {
		r := resource.NewWithAttributes(semconv.SchemaURL,
			semconv.ServiceName(svc), semconv.ServiceVersion("1.4."+strconv.Itoa(len(svc))),
			semconv.DeploymentEnvironmentName("testbed"), attribute.String("host.name", "node-"+svc[:2]))
		logExp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(cfg.Endpoint), otlploggrpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("otlp log exporter: %w", err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(r), sdklog.WithProcessor(
			sdklog.NewBatchProcessor(&ackingLogExporter{Exporter: logExp, ack: ack},
				sdklog.WithMaxQueueSize(1<<16), sdklog.WithExportInterval(200*time.Millisecond))))
		spanExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.Endpoint), otlptracegrpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(r), sdktrace.WithBatcher(
			&ackingSpanExporter{SpanExporter: spanExp, ack: ack},
			sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithBatchTimeout(200*time.Millisecond), sdktrace.WithBlocking()))
		shutdowns = append(shutdowns, lp.Shutdown, tp.Shutdown)
		loggers[svc] = lp.Logger("sluice.testbed/" + svc)
		tracers[svc] = tp.Tracer("sluice.testbed/" + svc)
	}

	sim := &simulator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), tracers: tracers, loggers: loggers, res: res}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	next := time.Now()
	for i := range cfg.Requests {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sim.request(ctx, i)
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	// Flush now so the result reflects acknowledgements (deferred shutdown is a no-op after this).
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	for _, s := range shutdowns {
		errs = append(errs, s(sctx))
	}
	shutdowns = nil
	return res, errors.Join(errs...)
}

// simulator builds one request's spans and logs.
type simulator struct {
	cfg     SDKConfig
	rng     *rand.Rand
	tracers map[string]trace.Tracer
	loggers map[string]otellog.Logger
	res     *SDKResult
	logSeq  uint64
	spanSeq uint64
}

var (
	users    = []string{"alice", "bob", "chidi", "dana", "erik", "fatima"}
	products = []string{"kettle", "lamp", "desk", "chair", "mug"}
)

func (s *simulator) request(ctx context.Context, i int) {
	failed := s.rng.Float64() < s.cfg.FailureRate
	correlation := fmt.Sprintf("corr-%s-%06d", s.cfg.RunID, i)
	user := users[s.rng.IntN(len(users))]
	email := fmt.Sprintf("%s.%d@example.com", user, i)
	card := cardNumber(s.rng)
	ip := fmt.Sprintf("10.%d.%d.%d", s.rng.IntN(256), s.rng.IntN(256), 1+s.rng.IntN(254))
	s.res.PII = append(s.res.PII, email, card)
	product := products[s.rng.IntN(len(products))]
	orderID := fmt.Sprintf("ord-%d", 100000+i)

	ctx, root := s.span(ctx, "frontend", "GET /api/checkout", trace.SpanKindServer, correlation)
	traceID := root.SpanContext().TraceID().String()
	s.res.Failed[traceID] = failed
	s.log(ctx, "frontend", otellog.SeverityInfo, otellog.StringValue(fmt.Sprintf(
		`%s - - [%s] "GET /api/checkout?item=%s HTTP/1.1" 200 512 "-" "Mozilla/5.0"`, ip, time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), product)),
		traceID, correlation, otellog.String("client.address", ip))

	cctx, checkout := s.span(ctx, "checkout", "PlaceOrder", trace.SpanKindInternal, correlation)
	s.log(cctx, "checkout", otellog.SeverityInfo, otellog.StringValue(fmt.Sprintf(
		`{"event":"order.created","order_id":%q,"item":%q,"user":{"name":%q,"email":%q},"amount":%d.%02d}`,
		orderID, product, user, email, 5+s.rng.IntN(200), s.rng.IntN(100))),
		traceID, correlation, otellog.String("user.email", email), otellog.String("order.id", orderID))

	pctx, pay := s.span(cctx, "payments", "Charge", trace.SpanKindClient, correlation)
	if failed {
		s.log(pctx, "payments", otellog.SeverityError, otellog.StringValue(stackTrace(orderID, card)),
			traceID, correlation, otellog.String("payment.card", card), otellog.String("exception.type", "PaymentDeclinedException"))
		pay.SetStatus(codes.Error, "card declined")
		pay.RecordError(errors.New("card declined"))
	} else {
		s.log(pctx, "payments", otellog.SeverityInfo, otellog.StringValue("charged card "+card+" for order "+orderID),
			traceID, correlation, otellog.String("payment.card", card))
	}
	pay.End()

	ictx, inv := s.span(cctx, "inventory", "Reserve", trace.SpanKindInternal, correlation)
	s.log(ictx, "inventory", otellog.SeverityDebug, otellog.StringValue("reserved 1 x "+product),
		traceID, correlation, otellog.String("product", product))
	if s.rng.IntN(4) == 0 {
		s.log(ictx, "inventory", otellog.SeverityWarn, otellog.StringValue(`{"event":"stock.low","product":"`+product+`","remaining":2}`),
			traceID, correlation)
	}
	inv.End()

	if failed {
		checkout.SetStatus(codes.Error, "payment failed")
		root.SetStatus(codes.Error, "502 from checkout")
		s.log(ctx, "frontend", otellog.SeverityError, otellog.StringValue("request failed: 502 Bad Gateway"), traceID, correlation)
	}
	checkout.End()
	root.End()
}

func (s *simulator) span(ctx context.Context, svc, name string, kind trace.SpanKind, correlation string) (context.Context, trace.Span) {
	id := s.res.Spans.ID(s.spanSeq)
	s.spanSeq++
	ctx, sp := s.tracers[svc].Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(
		attribute.String(validate.IDAttribute, id), attribute.String("correlation.id", correlation)))
	traceID := sp.SpanContext().TraceID().String()
	s.res.SpansByTrace[traceID] = append(s.res.SpansByTrace[traceID], id)
	return ctx, sp
}

func (s *simulator) log(ctx context.Context, svc string, sev otellog.Severity, body otellog.Value, traceID, correlation string, attrs ...otellog.KeyValue) {
	id := s.res.Logs.ID(s.logSeq)
	s.logSeq++
	s.res.LogsByTrace[traceID] = append(s.res.LogsByTrace[traceID], id)
	var rec otellog.Record
	now := time.Now()
	rec.SetTimestamp(now)
	rec.SetObservedTimestamp(now)
	rec.SetSeverity(sev)
	rec.SetSeverityText(sev.String())
	rec.SetBody(body)
	rec.AddAttributes(otellog.String(validate.IDAttribute, id), otellog.String("correlation.id", correlation))
	rec.AddAttributes(attrs...)
	s.loggers[svc].Emit(ctx, rec)
}

// cardNumber makes a Luhn-valid 16-digit test card number.
func cardNumber(rng *rand.Rand) string {
	digits := make([]int, 16)
	digits[0] = 4
	for i := 1; i < 15; i++ {
		digits[i] = rng.IntN(10)
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		d := digits[i]
		if (14-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	digits[15] = (10 - sum%10) % 10
	var b strings.Builder
	for _, d := range digits {
		b.WriteByte(byte('0' + d))
	}
	return b.String()
}

func stackTrace(orderID, card string) string {
	return "com.shop.payments.PaymentDeclinedException: card " + card + " declined for " + orderID + "\n" +
		"\tat com.shop.payments.Gateway.charge(Gateway.java:88)\n" +
		"\tat com.shop.payments.ChargeHandler.handle(ChargeHandler.java:41)\n" +
		"\tat io.grpc.stub.ServerCalls$UnaryServerCallHandler.onHalfClose(ServerCalls.java:182)\n" +
		"Caused by: java.net.SocketTimeoutException: Read timed out\n" +
		"\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)\n" +
		"\t... 12 more"
}

// ackRecorder collects ids from batches the collector acknowledged.
type ackRecorder struct {
	mu  sync.Mutex
	res *SDKResult
}

func (a *ackRecorder) failed() {
	a.mu.Lock()
	a.res.ExportErrors++
	a.mu.Unlock()
}

type ackingLogExporter struct {
	sdklog.Exporter
	ack *ackRecorder
}

func (e *ackingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	if err := e.Exporter.Export(ctx, records); err != nil {
		e.ack.failed()
		return err
	}
	for i := range records {
		records[i].WalkAttributes(func(kv otellog.KeyValue) bool {
			if kv.Key == validate.IDAttribute {
				e.ack.res.Logs.Add(kv.Value.AsString())
				return false
			}
			return true
		})
	}
	return nil
}

type ackingSpanExporter struct {
	sdktrace.SpanExporter
	ack *ackRecorder
}

func (e *ackingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.ack.failed()
		return err
	}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if kv.Key == validate.IDAttribute {
				e.ack.res.Spans.Add(kv.Value.AsString())
			}
		}
	}
	return nil
}

// NewRunID returns a short random id prefix for one run.
func NewRunID() string {
	return "r" + strconv.FormatUint(rand.Uint64()%(1<<40), 36)
}
