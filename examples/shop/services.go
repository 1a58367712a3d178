package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// The four services of the shop.
const (
	serviceGateway = "gateway"
	serviceAuth    = "auth"
	servicePayment = "payment"
	serviceOrder   = "order"
)

// allServices in call order: the gateway calls auth, then payment, then order.
var allServices = []string{serviceGateway, serviceAuth, servicePayment, serviceOrder}

const (
	// maxBodyBytes bounds what any service reads from a request or response body.
	maxBodyBytes = 1 << 20
	// slowQueryThreshold: order writes at least this long are logged as slow queries (WARN).
	slowQueryThreshold = 250 * time.Millisecond
	// faultAttribute marks the span where a fault was injected, so a reader can tell demo faults apart.
	faultAttribute = "shop.injected_fault"
)

// Wire types between the driver and the services.
type (
	lineItem struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	checkoutRequest struct {
		CardNumber string     `json:"card_number"`
		Currency   string     `json:"currency"`
		Items      []lineItem `json:"items"`
	}
	checkoutResponse struct {
		Status        string `json:"status"`
		CorrelationID string `json:"correlation_id"`
		OrderID       string `json:"order_id,omitempty"`
		AmountCents   int64  `json:"amount_cents,omitempty"`
		DeclineCode   string `json:"decline_code,omitempty"`
		Error         string `json:"error,omitempty"`
	}
	verifyResponse struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
		Tier   string `json:"tier"`
	}
	chargeRequest struct {
		UserID      string `json:"user_id"`
		Email       string `json:"email"`
		CardNumber  string `json:"card_number"`
		AmountCents int64  `json:"amount_cents"`
		Currency    string `json:"currency"`
	}
	chargeResponse struct {
		Status      string `json:"status"`
		ChargeID    string `json:"charge_id,omitempty"`
		DeclineCode string `json:"decline_code,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	orderRequest struct {
		UserID        string     `json:"user_id"`
		Items         []lineItem `json:"items"`
		AmountCents   int64      `json:"amount_cents"`
		Currency      string     `json:"currency"`
		PaymentStatus string     `json:"payment_status"`
		ChargeID      string     `json:"charge_id,omitempty"`
	}
	orderResponse struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
	}
	errorResponse struct {
		Error string `json:"error"`
	}
)

// Payment outcomes as the gateway passes them to the order service.
const (
	paymentStatusPaid     = "paid"
	paymentStatusDeclined = "declined"
	paymentStatusFailed   = "failed"
)

// service is one of the shop's HTTP services with its own telemetry. Handlers are methods; which
// routes a service serves depends on its name.
type service struct {
	name     string
	tel      *telemetry
	faults   Faults
	upstream upstreams

	// Outgoing calls (the gateway's): traced by otelhttp, trace context and baggage injected.
	base   *http.Transport
	client *http.Client

	ids       *correlationIDs // gateway: one id per checkout
	sequence  atomic.Int64    // payment: charge ids; order: order ids
	runPrefix string          // makes charge and order ids unique across runs
}

// upstreams are the base URLs the gateway calls.
type upstreams struct {
	auth, payment, order string
}

func newService(name string, tel *telemetry, faults Faults, up upstreams, ids *correlationIDs, runPrefix string) *service {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &service{
		name:     name,
		tel:      tel,
		faults:   faults,
		upstream: up,
		base:     base,
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: otelhttp.NewTransport(base,
				otelhttp.WithTracerProvider(tel.traces),
				otelhttp.WithPropagators(tel.propagator),
				otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
					return r.Method + " " + r.URL.Path
				}),
			),
		},
		ids:       ids,
		runPrefix: runPrefix,
	}
}

// handler returns the service's routes wrapped in otelhttp: a server span per request, continuing
// the caller's trace and baggage.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	opts := []otelhttp.Option{
		otelhttp.WithTracerProvider(s.tel.traces),
		otelhttp.WithPropagators(s.tel.propagator),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }),
	}
	var h http.Handler = mux
	switch s.name {
	case serviceGateway:
		s.route(mux, http.MethodPost, "/checkout", s.checkout)
		h = s.withNewCorrelationID(mux)
		// The gateway is the edge: it starts a new trace (linking any the client sent).
		opts = append(opts, otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
	case serviceAuth:
		s.route(mux, http.MethodPost, "/v1/verify", s.verify)
	case servicePayment:
		s.route(mux, http.MethodPost, "/v1/charges", s.charge)
	case serviceOrder:
		s.route(mux, http.MethodPost, "/v1/orders", s.createOrder)
	}
	return otelhttp.NewHandler(h, "shop-"+s.name, opts...)
}

// withNewCorrelationID gives every request through the gateway a fresh correlation id: in the
// baggage (so it travels to auth, payment and order), on the server span and in a response header.
func (s *service) withNewCorrelationID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.ids.next()
		ctx, err := withCorrelation(r.Context(), id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		trace.SpanFromContext(ctx).SetAttributes(attribute.String(correlationKey, id))
		w.Header().Set("X-Correlation-Id", id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// handlerFunc handles one route; its logger already carries the route's attributes.
type handlerFunc func(ctx context.Context, r *http.Request, log *slog.Logger) (status int, body any)

// route registers h and wraps it with what every route does: name the span after the route, write
// the JSON answer, and log one access line whose level follows the status (5xx ERROR, 4xx WARN).
func (s *service) route(mux *http.ServeMux, method, path string, h handlerFunc) {
	mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		span.SetName(method + " " + path)
		span.SetAttributes(semconv.HTTPRoute(path))
		log := s.tel.logger.With("http.request.method", method, "http.route", path)

		status, body := h(ctx, r, log)
		writeJSON(w, status, body)

		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		elapsed := time.Since(start)
		log.Log(ctx, level, fmt.Sprintf("%s %s %d %d ms", method, path, status, elapsed.Milliseconds()),
			"http.response.status_code", status, "duration_ms", elapsed.Milliseconds())
	})
}

// checkout is the gateway's one route: verify the customer, charge the card, record the order.
func (s *service) checkout(ctx context.Context, r *http.Request, log *slog.Logger) (int, any) {
	id := correlationFrom(ctx)
	var req checkoutRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		log.WarnContext(ctx, "rejected checkout: "+err.Error())
		return http.StatusBadRequest, checkoutResponse{Status: "rejected", CorrelationID: id, Error: err.Error()}
	}
	amount, err := req.total()
	if err != nil {
		log.WarnContext(ctx, "rejected checkout: "+err.Error())
		return http.StatusBadRequest, checkoutResponse{Status: "rejected", CorrelationID: id, Error: err.Error()}
	}
	clientIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	log.InfoContext(ctx, fmt.Sprintf("checkout started: %d items, %s", len(req.Items), money(amount, req.Currency)),
		"cart.items", len(req.Items), "cart.amount_cents", amount, "client.address", clientIP)

	// 1. Who is this? (auth)
	var user verifyResponse
	status, err := s.call(ctx, s.upstream.auth+"/v1/verify",
		http.Header{"Authorization": r.Header.Values("Authorization")}, struct{}{}, &user)
	switch {
	case err == nil && status == http.StatusUnauthorized:
		log.WarnContext(ctx, "checkout rejected: invalid credentials")
		return http.StatusUnauthorized, checkoutResponse{Status: "unauthorized", CorrelationID: id, Error: "invalid credentials"}
	case err != nil || status != http.StatusOK:
		log.ErrorContext(ctx, "checkout failed: auth service: "+upstreamProblem(status, err), "upstream.status_code", status)
		return http.StatusBadGateway, checkoutResponse{Status: "failed", CorrelationID: id, Error: "auth service unavailable"}
	}
	log = log.With("user.id", user.UserID)
	log.InfoContext(ctx, fmt.Sprintf("checkout for %s (%s customer)", user.Email, user.Tier), "user.email", user.Email)

	// 2. Charge the card (payment).
	var charge chargeResponse
	status, err = s.call(ctx, s.upstream.payment+"/v1/charges", nil, chargeRequest{
		UserID: user.UserID, Email: user.Email, CardNumber: req.CardNumber, AmountCents: amount, Currency: req.Currency,
	}, &charge)
	paymentStatus := paymentStatusFailed
	switch {
	case err == nil && status == http.StatusCreated:
		paymentStatus = paymentStatusPaid
	case err == nil && status == http.StatusPaymentRequired:
		paymentStatus = paymentStatusDeclined
	}

	// 3. Record the order, also a failed one: the customer service desk sees every attempt (order).
	var order orderResponse
	orderStatus, orderErr := s.call(ctx, s.upstream.order+"/v1/orders", nil, orderRequest{
		UserID: user.UserID, Items: req.Items, AmountCents: amount, Currency: req.Currency,
		PaymentStatus: paymentStatus, ChargeID: charge.ChargeID,
	}, &order)
	orderStored := orderErr == nil && orderStatus == http.StatusCreated

	switch paymentStatus {
	case paymentStatusPaid:
		if !orderStored {
			log.ErrorContext(ctx, fmt.Sprintf("checkout failed: charge %s not recorded, refund needed: order service: %s",
				charge.ChargeID, upstreamProblem(orderStatus, orderErr)), "payment.charge_id", charge.ChargeID, "upstream.status_code", orderStatus)
			return http.StatusBadGateway, checkoutResponse{Status: "failed", CorrelationID: id, Error: "order service unavailable"}
		}
		log.InfoContext(ctx, "checkout completed: order "+order.OrderID, "order.id", order.OrderID, "payment.charge_id", charge.ChargeID)
		return http.StatusCreated, checkoutResponse{Status: "completed", CorrelationID: id, OrderID: order.OrderID, AmountCents: amount}
	case paymentStatusDeclined:
		log.WarnContext(ctx, "checkout declined: "+charge.DeclineCode, "payment.decline_code", charge.DeclineCode, "order.id", order.OrderID)
		return http.StatusPaymentRequired, checkoutResponse{Status: "declined", CorrelationID: id, OrderID: order.OrderID, DeclineCode: charge.DeclineCode}
	default:
		log.ErrorContext(ctx, "checkout failed: payment service: "+upstreamProblem(status, err), "upstream.status_code", status, "order.id", order.OrderID)
		return http.StatusBadGateway, checkoutResponse{Status: "failed", CorrelationID: id, OrderID: order.OrderID, Error: "payment provider unavailable"}
	}
}

// verify is the auth service: a bearer token names a customer.
func (s *service) verify(ctx context.Context, r *http.Request, log *slog.Logger) (int, any) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, known := customerByToken[token]
	if !ok || !known {
		log.WarnContext(ctx, "token rejected: missing or unknown bearer token", "auth.reason", "unknown_token")
		return http.StatusUnauthorized, errorResponse{Error: "invalid credentials"}
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("enduser.id", c.ID))
	log.InfoContext(ctx, fmt.Sprintf("token verified for %s <%s>", c.Name, c.Email),
		"user.id", c.ID, "user.email", c.Email, "user.tier", c.Tier)
	return http.StatusOK, verifyResponse{UserID: c.ID, Email: c.Email, Tier: c.Tier}
}

// charge is the payment service: it asks the (simulated) acquirer to authorize the amount. Its logs
// carry the card number and e-mail in clear, as careless services do: the agent's pii_mask masks them.
func (s *service) charge(ctx context.Context, r *http.Request, log *slog.Logger) (int, any) {
	var req chargeRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		log.WarnContext(ctx, "rejected charge: "+err.Error())
		return http.StatusBadRequest, errorResponse{Error: err.Error()}
	}
	log = log.With("user.id", req.UserID, "user.email", req.Email, "payment.card_number", req.CardNumber,
		"payment.amount_cents", req.AmountCents, "payment.currency", req.Currency)
	log.InfoContext(ctx, fmt.Sprintf("charging card %s for %s: %s", req.CardNumber, req.Email, money(req.AmountCents, req.Currency)))

	span := trace.SpanFromContext(ctx)
	key := faultKey(ctx)
	outcome, declineCode := s.faults.payment(key)
	switch outcome {
	case paymentDeclined:
		span.SetAttributes(attribute.String(faultAttribute, outcome.String()), attribute.String("payment.decline_code", declineCode))
		log.WarnContext(ctx, fmt.Sprintf("card %s declined by issuer: %s", req.CardNumber, declineCode), "payment.decline_code", declineCode)
		return http.StatusPaymentRequired, chargeResponse{Status: "declined", DeclineCode: declineCode}
	case paymentProviderError:
		err := acquirer{}.authorize(s.faults.providerFailure(key))
		var stack string
		if perr := (*providerError)(nil); errors.As(err, &perr) {
			stack = perr.stack
		}
		span.SetAttributes(attribute.String(faultAttribute, outcome.String()))
		span.RecordError(err, trace.WithStackTrace(true))
		span.SetStatus(codes.Error, err.Error())
		log.ErrorContext(ctx, "payment provider error: "+err.Error(),
			"exception.type", "payment.ProviderError", "exception.message", err.Error(), "exception.stacktrace", stack)
		return http.StatusBadGateway, chargeResponse{Status: "error", Error: "payment provider unavailable"}
	}
	chargeID := fmt.Sprintf("ch_%s_%06d", s.runPrefix, s.sequence.Add(1))
	log.InfoContext(ctx, "charge approved: "+chargeID, "payment.charge_id", chargeID)
	return http.StatusCreated, chargeResponse{Status: "approved", ChargeID: chargeID}
}

// createOrder is the order service: it writes the order to its (simulated) database.
func (s *service) createOrder(ctx context.Context, r *http.Request, log *slog.Logger) (int, any) {
	var req orderRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		log.WarnContext(ctx, "rejected order: "+err.Error())
		return http.StatusBadRequest, errorResponse{Error: err.Error()}
	}
	orderID := fmt.Sprintf("ord-%s-%06d", s.runPrefix, s.sequence.Add(1))
	state := "confirmed"
	if req.PaymentStatus != paymentStatusPaid {
		state = "payment_" + req.PaymentStatus
	}
	log = log.With("user.id", req.UserID, "order.id", orderID, "order.status", state)

	key := faultKey(ctx)
	slow := s.faults.slowOrder(key)
	took, err := s.insertOrder(ctx, slow, s.faults.writeLatency(key))
	if err != nil {
		log.ErrorContext(ctx, fmt.Sprintf("order %s not stored: %v", orderID, err), "db.duration_ms", took.Milliseconds())
		return http.StatusServiceUnavailable, errorResponse{Error: "order store unavailable"}
	}
	if took >= slowQueryThreshold {
		log.WarnContext(ctx, fmt.Sprintf("slow query: INSERT INTO shop.orders took %d ms", took.Milliseconds()), "db.duration_ms", took.Milliseconds())
	}
	log.InfoContext(ctx, fmt.Sprintf("order %s stored: %s, %d items, %s", orderID, state, len(req.Items), money(req.AmountCents, req.Currency)),
		"order.items", len(req.Items), "db.duration_ms", took.Milliseconds())
	return http.StatusCreated, orderResponse{OrderID: orderID, Status: state}
}

// insertOrder simulates the database write as a client span, slow when a fault is injected.
func (s *service) insertOrder(ctx context.Context, slow bool, latency time.Duration) (time.Duration, error) {
	ctx, span := s.tel.traces.Tracer("shop/order").Start(ctx, "INSERT shop.orders",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "postgresql"),
			attribute.String("db.namespace", "shop"),
			attribute.String("db.collection.name", "orders"),
			attribute.String("db.operation.name", "INSERT"),
			attribute.String("server.address", "orders-db.internal"),
		))
	defer span.End()
	if slow {
		span.SetAttributes(attribute.String(faultAttribute, "slow_write"))
		latency = s.faults.SlowOrderDelay
	}
	start := time.Now()
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return time.Since(start), nil
	case <-ctx.Done():
		err := fmt.Errorf("insert into shop.orders: %w", ctx.Err())
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return time.Since(start), err
	}
}

// faultKey is what fault decisions hash: the correlation id, or the trace id when a service is
// called directly (without the gateway).
func faultKey(ctx context.Context) string {
	if id := correlationFrom(ctx); id != "" {
		return id
	}
	return trace.SpanContextFromContext(ctx).TraceID().String()
}

// providerFailures are the acquirer failures a provider error is drawn from.
var providerFailures = []string{
	"POST https://api.acquirer.example/v2/authorize: read tcp 10.24.7.19:51234->198.51.100.20:443: i/o timeout",
	"POST https://api.acquirer.example/v2/authorize: 503 Service Unavailable: upstream connect error or disconnect/reset before headers",
	"POST https://api.acquirer.example/v2/authorize: tls: failed to verify certificate: x509: certificate has expired",
}

// providerError is a failure of the payment provider, with the stack where it surfaced.
type providerError struct {
	cause string
	stack string
}

func (e *providerError) Error() string { return "authorize: " + e.cause }

// acquirer stands in for the payment provider's client library.
type acquirer struct{}

func (a acquirer) authorize(failure int) error { return a.roundTrip(failure) }

func (acquirer) roundTrip(failure int) error {
	return &providerError{cause: providerFailures[failure], stack: string(debug.Stack())}
}

// call POSTs in as JSON to url and decodes the JSON answer into out.
func (s *service) call(ctx context.Context, url string, header http.Header, in, out any) (int, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, fmt.Errorf("encode request to %s: %w", url, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("request to %s: %w", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes)) // lets the connection be reused
		_ = resp.Body.Close()
	}()
	if err := decodeJSON(resp.Body, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%d response from %s: %w", resp.StatusCode, url, err)
	}
	return resp.StatusCode, nil
}

func (s *service) closeIdleConnections() { s.base.CloseIdleConnections() }

func decodeJSON(r io.Reader, v any) error {
	if err := json.NewDecoder(io.LimitReader(r, maxBodyBytes)).Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// total prices the cart, rejecting what a real shop would reject.
func (c checkoutRequest) total() (int64, error) {
	if len(c.Items) == 0 {
		return 0, errors.New("cart is empty")
	}
	if c.Currency == "" {
		return 0, errors.New("currency is missing")
	}
	var sum int64
	for _, it := range c.Items {
		price, ok := priceBySKU[it.SKU]
		if !ok {
			return 0, fmt.Errorf("unknown sku %q", it.SKU)
		}
		if it.Quantity < 1 || it.Quantity > 99 {
			return 0, fmt.Errorf("quantity %d of %s must be from 1 to 99", it.Quantity, it.SKU)
		}
		sum += price * it.Quantity
	}
	return sum, nil
}

func money(cents int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", cents/100, cents%100, currency)
}

func upstreamProblem(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", status)
}
