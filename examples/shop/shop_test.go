package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testFaults fail often enough that 40 checkouts see every outcome; the slow delay is short but
// above slowQueryThreshold, so slow writes are also logged as slow queries.
var testFaults = Faults{
	Seed:              20261121,
	DeclineRate:       0.2,
	ProviderErrorRate: 0.15,
	SlowOrderRate:     0.15,
	SlowOrderDelay:    300 * time.Millisecond,
}

const testCheckouts = 40

func testConfig(endpoint, protocol string, faults Faults) Config {
	return Config{
		Services: allServices,
		Addrs: Addrs{
			Gateway: "127.0.0.1:0", Auth: "127.0.0.1:0", Payment: "127.0.0.1:0", Order: "127.0.0.1:0",
		},
		Environment: "test",
		Export:      Export{Endpoint: endpoint, Protocol: protocol},
		Faults:      faults,
	}
}

// runShop starts the four services exporting to a fresh sink, sends n checkouts through the
// driver, and stops the shop (which flushes every provider) before returning what was sent.
func runShop(t *testing.T, protocol string, faults Faults, n int) ([]Checkout, *otlpSink) {
	t.Helper()
	sink, endpoint := startSink(t, protocol)
	shop, err := Start(context.Background(), testConfig(endpoint, protocol, faults))
	require.NoError(t, err)
	t.Cleanup(func() { _ = shop.Shutdown(context.Background()) })

	var (
		mu        sync.Mutex
		checkouts []Checkout
	)
	sum, err := Drive(context.Background(), Load{
		Target: shop.GatewayURL(), Rate: 1000, Requests: n, MaxInFlight: 8, Seed: faults.Seed,
	}, func(c Checkout) {
		mu.Lock()
		checkouts = append(checkouts, c)
		mu.Unlock()
	})
	require.NoError(t, err)
	require.Equal(t, n, sum.Sent, "the driver sends every checkout (none skipped at 8 in flight)")
	require.Len(t, checkouts, n)

	// Shutdown flushes the batch processors: everything is at the sink when it returns.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, shop.Shutdown(ctx))
	return checkouts, sink
}

func TestShopEndToEnd(t *testing.T) {
	for _, protocol := range []string{protocolHTTP, protocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			checkouts, sink := runShop(t, protocol, testFaults, testCheckouts)
			traces := checkTraces(t, sink.spans(), len(checkouts))
			checkOutcomes(t, testFaults, checkouts, traces)
			checkLogs(t, sink.logRecords(), checkouts, traces)
		})
	}
}

// requestTrace is one request's spans, by the correlation id its root carries.
type requestTrace struct {
	id            string
	correlationID string
	spans         []gotSpan
}

func (tr requestTrace) find(service, name string) (gotSpan, bool) {
	for _, sp := range tr.spans {
		if sp.service == service && sp.name == name {
			return sp, true
		}
	}
	return gotSpan{}, false
}

// checkTraces asserts one trace per checkout, rooted at the gateway, spanning all four services
// with every downstream server span the child of a gateway client span; it returns the traces by
// correlation id.
func checkTraces(t *testing.T, spans []gotSpan, n int) map[string]requestTrace {
	t.Helper()
	byTrace := map[string][]gotSpan{}
	for _, sp := range spans {
		byTrace[sp.traceID] = append(byTrace[sp.traceID], sp)
	}
	require.Len(t, byTrace, n, "one trace per checkout")

	traces := map[string]requestTrace{}
	for id, spans := range byTrace {
		byID := map[string]gotSpan{}
		services := map[string]bool{}
		var roots []gotSpan
		for _, sp := range spans {
			byID[sp.spanID] = sp
			services[sp.service] = true
			if sp.parentID == "" {
				roots = append(roots, sp)
			}
		}
		require.Len(t, roots, 1, "trace %s has one root", id)
		root := roots[0]
		assert.Equal(t, "shop-gateway", root.service)
		assert.Equal(t, ptrace.SpanKindServer, root.kind)
		assert.Equal(t, "POST /checkout", root.name)
		assert.Equal(t, "/checkout", root.attrs["http.route"])
		cid, _ := root.attrs[correlationKey].(string)
		require.NotEmpty(t, cid, "root span of trace %s carries the correlation id", id)
		assert.Equal(t, map[string]bool{"shop-gateway": true, "shop-auth": true, "shop-payment": true, "shop-order": true},
			services, "trace %s spans all four services", id)

		for _, sp := range spans {
			assert.Equal(t, cid, sp.attrs[correlationKey], "span %s %q of trace %s", sp.service, sp.name, id)
			if sp.parentID == "" {
				continue
			}
			parent, ok := byID[sp.parentID]
			require.True(t, ok, "parent of span %s %q is in trace %s", sp.service, sp.name, id)
			if sp.kind == ptrace.SpanKindServer {
				// A server span of auth/payment/order continues the gateway's outgoing call.
				assert.Equal(t, "shop-gateway", parent.service)
				assert.Equal(t, ptrace.SpanKindClient, parent.kind)
				assert.Equal(t, sp.name, parent.name, "client and server span name the same route")
			}
		}
		for _, want := range []struct{ service, name string }{
			{"shop-gateway", "POST /v1/verify"},
			{"shop-auth", "POST /v1/verify"},
			{"shop-gateway", "POST /v1/charges"},
			{"shop-payment", "POST /v1/charges"},
			{"shop-gateway", "POST /v1/orders"},
			{"shop-order", "POST /v1/orders"},
			{"shop-order", "INSERT shop.orders"},
		} {
			_, ok := requestTrace{spans: spans}.find(want.service, want.name)
			assert.True(t, ok, "trace %s has span %s %q", id, want.service, want.name)
		}
		_, dup := traces[cid]
		require.False(t, dup, "correlation id %s used by two traces", cid)
		traces[cid] = requestTrace{id: id, correlationID: cid, spans: spans}
	}
	return traces
}

// checkOutcomes asserts that every checkout ended as the fault plan for its correlation id says,
// in its HTTP status and in its spans, and that the plan produced every kind of outcome.
func checkOutcomes(t *testing.T, f Faults, checkouts []Checkout, traces map[string]requestTrace) {
	t.Helper()
	seen := map[string]int{}
	for _, c := range checkouts {
		require.NoError(t, c.Err)
		tr, ok := traces[c.CorrelationID]
		require.True(t, ok, "checkout %s has a trace", c.CorrelationID)
		outcome, declineCode := f.payment(c.CorrelationID)
		seen[outcome.String()]++

		payment, ok := tr.find("shop-payment", "POST /v1/charges")
		require.True(t, ok)
		switch outcome {
		case paymentApproved:
			assert.Equal(t, http.StatusCreated, c.Status)
			assert.NotEmpty(t, c.OrderID)
			assert.NotContains(t, payment.attrs, faultAttribute)
			assert.Equal(t, ptrace.StatusCodeUnset, payment.status)
		case paymentDeclined:
			assert.Equal(t, http.StatusPaymentRequired, c.Status)
			assert.Equal(t, "declined", payment.attrs[faultAttribute])
			assert.Equal(t, declineCode, payment.attrs["payment.decline_code"])
			assert.Equal(t, ptrace.StatusCodeUnset, payment.status, "a decline is not a server error")
		case paymentProviderError:
			assert.Equal(t, http.StatusBadGateway, c.Status)
			assert.Equal(t, "provider_error", payment.attrs[faultAttribute])
			assert.Equal(t, ptrace.StatusCodeError, payment.status)
			exc, ok := payment.events["exception"]
			require.True(t, ok, "provider error recorded as an exception event")
			assert.Contains(t, exc["exception.message"], "authorize: POST https://api.acquirer.example")
			assert.Contains(t, exc["exception.stacktrace"], "goroutine", "exception event has a stack trace")
			root, _ := tr.find("shop-gateway", "POST /checkout")
			assert.Equal(t, ptrace.StatusCodeError, root.status, "the gateway answered 502")
		}

		insert, ok := tr.find("shop-order", "INSERT shop.orders")
		require.True(t, ok)
		if f.slowOrder(c.CorrelationID) {
			seen["slow"]++
			assert.Equal(t, "slow_write", insert.attrs[faultAttribute])
			assert.GreaterOrEqual(t, insert.duration, f.SlowOrderDelay, "slow write lasts the configured delay")
		} else {
			assert.NotContains(t, insert.attrs, faultAttribute)
		}
	}
	for _, kind := range []string{"approved", "declined", "provider_error", "slow"} {
		assert.Positive(t, seen[kind], "the seeded plan produced %s checkouts (%v)", kind, seen)
	}
	assert.Greater(t, seen["approved"], seen["declined"]+seen["provider_error"], "most checkouts succeed (%v)", seen)
}

// checkLogs asserts that every log record belongs to a request's trace and carries its correlation
// id and route; that each request logged in all four services; that failures logged at the
// right levels; and that the payment log carries the PII the agent must mask.
func checkLogs(t *testing.T, logs []gotLog, checkouts []Checkout, traces map[string]requestTrace) {
	t.Helper()
	require.NotEmpty(t, logs)
	cidOfTrace := map[string]string{}
	for cid, tr := range traces {
		cidOfTrace[tr.id] = cid
	}
	byCID := map[string][]gotLog{}
	for _, l := range logs {
		cid, ok := cidOfTrace[l.traceID]
		require.True(t, ok, "log %q of %s has the trace id of a request (got %q)", l.body, l.service, l.traceID)
		assert.NotEmpty(t, l.spanID, "log %q has a span id", l.body)
		assert.Equal(t, cid, l.attrs[correlationKey], "log %q of %s carries its request's correlation_id", l.body, l.service)
		assert.Contains(t, l.attrs, "http.route", "log %q", l.body)
		assert.Equal(t, "test", l.environment)
		byCID[cid] = append(byCID[cid], l)
	}

	has := func(logs []gotLog, service string, sev plog.SeverityNumber, bodyPart string) (gotLog, bool) {
		for _, l := range logs {
			if l.service == service && l.severity == sev && strings.Contains(l.body, bodyPart) {
				return l, true
			}
		}
		return gotLog{}, false
	}
	for _, c := range checkouts {
		logs := byCID[c.CorrelationID]
		services := map[string]bool{}
		for _, l := range logs {
			services[l.service] = true
		}
		assert.Len(t, services, 4, "checkout %s logged in all four services", c.CorrelationID)

		// The access line of every service has the status code.
		access, ok := has(logs, "shop-payment", severityFor(c.paymentStatus()), "POST /v1/charges ")
		if assert.True(t, ok, "payment access log of %s", c.CorrelationID) {
			assert.EqualValues(t, c.paymentStatus(), access.attrs["http.response.status_code"])
		}

		// PII in clear in the payment log: the card number and e-mail, in the body and attributes.
		charging, ok := has(logs, "shop-payment", plog.SeverityNumberInfo, "charging card ")
		if assert.True(t, ok, "payment log of %s", c.CorrelationID) {
			assert.Contains(t, charging.body, c.CardNumber)
			assert.Contains(t, charging.body, c.CustomerEmail)
			assert.Equal(t, c.CardNumber, charging.attrs["payment.card_number"])
			assert.Equal(t, c.CustomerEmail, charging.attrs["user.email"])
		}

		switch c.Status {
		case http.StatusPaymentRequired:
			_, ok := has(logs, "shop-payment", plog.SeverityNumberWarn, "declined by issuer")
			assert.True(t, ok, "decline logged as WARN by payment")
			_, ok = has(logs, "shop-gateway", plog.SeverityNumberWarn, "checkout declined")
			assert.True(t, ok, "decline logged as WARN by the gateway")
		case http.StatusBadGateway:
			l, ok := has(logs, "shop-payment", plog.SeverityNumberError, "payment provider error")
			if assert.True(t, ok, "provider error logged as ERROR by payment") {
				assert.Contains(t, l.attrs["exception.stacktrace"], "acquirer.roundTrip")
				assert.Contains(t, l.attrs["exception.message"], "authorize: ")
			}
			_, ok = has(logs, "shop-gateway", plog.SeverityNumberError, "POST /checkout 502")
			assert.True(t, ok, "gateway access log at ERROR")
		}
		if testFaults.slowOrder(c.CorrelationID) {
			_, ok := has(logs, "shop-order", plog.SeverityNumberWarn, "slow query: INSERT INTO shop.orders")
			assert.True(t, ok, "slow write logged as WARN by order")
		}
	}
}

// paymentStatus is the status the payment service answered for the checkout.
func (c Checkout) paymentStatus() int {
	switch c.Status {
	case http.StatusPaymentRequired:
		return http.StatusPaymentRequired
	case http.StatusBadGateway:
		return http.StatusBadGateway
	default:
		return http.StatusCreated
	}
}

func severityFor(status int) plog.SeverityNumber {
	switch {
	case status >= 500:
		return plog.SeverityNumberError
	case status >= 400:
		return plog.SeverityNumberWarn
	default:
		return plog.SeverityNumberInfo
	}
}

// TestAgentMasksShopPII runs the shop's logs through pii_mask configured exactly as in
// configs/agent.yaml: no card number or e-mail survives, and the correlation ids are untouched.
func TestAgentMasksShopPII(t *testing.T) {
	checkouts, sink := runShop(t, protocolHTTP, Faults{Seed: 7, DeclineRate: 0.3, ProviderErrorRate: 0.2}, 12)
	logs := sink.allLogs()
	before := flattenLogs(logs)

	conf, err := confmaptest.LoadConf(filepath.Join("..", "..", "configs", "agent.yaml"))
	require.NoError(t, err)
	piiConf, err := conf.Sub("processors::pii_mask")
	require.NoError(t, err)
	factory := piimaskprocessor.NewFactory()
	cfg := factory.CreateDefaultConfig()
	require.NoError(t, piiConf.Unmarshal(cfg))
	masked := new(consumertest.LogsSink)
	p, err := factory.CreateLogs(context.Background(), processortest.NewNopSettings(factory.Type()), cfg, masked)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), nil))
	require.NoError(t, p.ConsumeLogs(context.Background(), logs))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, masked.AllLogs(), 1)

	after := flattenLogs(masked.AllLogs()[0])
	require.Len(t, after, len(before))
	out, err := (&plog.JSONMarshaler{}).MarshalLogs(masked.AllLogs()[0])
	require.NoError(t, err)
	text := string(out)
	for _, c := range checkouts {
		assert.NotContains(t, text, c.CardNumber)
		assert.NotContains(t, text, strings.NewReplacer(" ", "", "-", "").Replace(c.CardNumber))
		assert.NotContains(t, text, c.CustomerEmail)
	}
	assert.Contains(t, text, "[REDACTED:email]")
	for i := range before {
		assert.Equal(t, before[i].attrs[correlationKey], after[i].attrs[correlationKey], "pii_mask leaves correlation ids alone")
		if card, ok := after[i].attrs["payment.card_number"].(string); ok {
			assert.True(t, strings.HasPrefix(card, "****"), "card masked to its last digits: %q", card)
		}
	}
}

// TestCheckoutRejected: a checkout without valid credentials or with a bad cart stops early,
// with WARN logs, still as one traced request with a correlation id.
func TestCheckoutRejected(t *testing.T) {
	sink, endpoint := startSink(t, protocolHTTP)
	shop, err := Start(context.Background(), testConfig(endpoint, protocolHTTP, testFaults))
	require.NoError(t, err)
	t.Cleanup(func() { _ = shop.Shutdown(context.Background()) })

	post := func(token, body string) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, shop.GatewayURL()+"/checkout", strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, resp.Header.Get("X-Correlation-Id")
	}
	cart := `{"card_number":"4111 1111 1111 1111","currency":"EUR","items":[{"sku":"SKU-1001","quantity":1}]}`
	unauthorized, unauthorizedID := post("not-a-token", cart)
	badCart, badCartID := post(customers[0].Token, `{"currency":"EUR","items":[{"sku":"SKU-9999","quantity":1}]}`)
	assert.Equal(t, http.StatusUnauthorized, unauthorized)
	assert.Equal(t, http.StatusBadRequest, badCart)
	require.NotEmpty(t, unauthorizedID)
	require.NotEqual(t, unauthorizedID, badCartID)

	require.NoError(t, shop.Shutdown(context.Background()))
	http.DefaultClient.CloseIdleConnections()

	services := map[string]map[string]bool{}
	for _, sp := range sink.spans() {
		cid, _ := sp.attrs[correlationKey].(string)
		if services[cid] == nil {
			services[cid] = map[string]bool{}
		}
		services[cid][sp.service] = true
	}
	assert.Equal(t, map[string]bool{"shop-gateway": true, "shop-auth": true}, services[unauthorizedID])
	assert.Equal(t, map[string]bool{"shop-gateway": true}, services[badCartID])

	var warned []string
	for _, l := range sink.logRecords() {
		if l.severity == plog.SeverityNumberWarn {
			warned = append(warned, l.service+": "+l.body)
		}
	}
	assert.Contains(t, warned, "shop-auth: token rejected: missing or unknown bearer token")
	assert.Contains(t, warned, "shop-gateway: checkout rejected: invalid credentials")
	assert.Contains(t, warned, `shop-gateway: rejected checkout: unknown sku "SKU-9999"`)
}

func TestShutdownIsIdempotent(t *testing.T) {
	_, endpoint := startSink(t, protocolHTTP)
	shop, err := Start(context.Background(), testConfig(endpoint, protocolHTTP, testFaults))
	require.NoError(t, err)
	require.NoError(t, shop.Shutdown(context.Background()))
	require.NoError(t, shop.Shutdown(context.Background()))
}

func TestStartFailsOnBusyPort(t *testing.T) {
	_, endpoint := startSink(t, protocolHTTP)
	first, err := Start(context.Background(), testConfig(endpoint, protocolHTTP, testFaults))
	require.NoError(t, err)
	t.Cleanup(func() { _ = first.Shutdown(context.Background()) })

	cfg := testConfig(endpoint, protocolHTTP, testFaults)
	cfg.Addrs.Order = first.Addrs().Order
	_, err = Start(context.Background(), cfg)
	require.ErrorContains(t, err, "order: listen: ")
}
