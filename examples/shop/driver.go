package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Load is what the driver sends to the gateway.
type Load struct {
	// Target is the gateway's base URL.
	Target string
	// Rate is checkouts per second, sent at a fixed pace whatever the answers' latency.
	Rate float64
	// Duration stops the driver after this long; 0 runs until ctx ends (or Requests are sent).
	Duration time.Duration
	// Requests stops the driver after this many checkouts; 0 means no limit.
	Requests int
	// MaxInFlight caps concurrent checkouts; a tick finding the cap reached is skipped and counted.
	MaxInFlight int
	// Seed fixes the sequence of carts, customers and cards.
	Seed uint64
	// Progress, when set, receives a status line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Driver defaults: a modest rate that still gives error-rate windows enough records to alert on.
const (
	defaultRate          = 5
	defaultMaxInFlight   = 64
	defaultProgressEvery = 10 * time.Second
	// requestTimeout bounds one checkout, slow order writes included.
	requestTimeout = 45 * time.Second
)

// Validate reports the first invalid setting, named by its command-line flag.
func (l Load) Validate() error {
	switch {
	case !(l.Rate > 0 && l.Rate <= 10000):
		return fmt.Errorf("-rps %v must be above 0 and at most 10000", l.Rate)
	case l.Duration < 0:
		return fmt.Errorf("-duration %s must not be negative", l.Duration)
	case l.Requests < 0:
		return fmt.Errorf("-requests %d must not be negative", l.Requests)
	case l.MaxInFlight < 1:
		return fmt.Errorf("-max-in-flight %d must be at least 1", l.MaxInFlight)
	case !strings.HasPrefix(l.Target, "http://") && !strings.HasPrefix(l.Target, "https://"):
		return fmt.Errorf("gateway URL %q must start with http:// or https://", l.Target)
	}
	return nil
}

// Checkout is the result of one checkout the driver sent.
type Checkout struct {
	Status        int // HTTP status; 0 when the request failed
	CorrelationID string
	OrderID       string
	CardNumber    string
	CustomerEmail string
	Latency       time.Duration
	Err           error
}

// Summary counts what a drive did.
type Summary struct {
	Sent     int
	Skipped  int // ticks dropped because MaxInFlight checkouts were pending
	ByStatus map[int]int
	Failed   int // requests without an HTTP answer
	MaxLat   time.Duration
	totalLat time.Duration
}

// MeanLatency of the answered checkouts.
func (s Summary) MeanLatency() time.Duration {
	answered := s.Sent - s.Failed
	if answered == 0 {
		return 0
	}
	return s.totalLat / time.Duration(answered)
}

func (s Summary) String() string {
	codes := make([]int, 0, len(s.ByStatus))
	for c := range s.ByStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "%d checkouts", s.Sent)
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d:%d", c, s.ByStatus[c])
	}
	if s.Failed > 0 {
		fmt.Fprintf(&b, "  no answer:%d", s.Failed)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "  skipped (max in flight):%d", s.Skipped)
	}
	fmt.Fprintf(&b, "  mean %s  max %s", s.MeanLatency().Round(time.Millisecond), s.MaxLat.Round(time.Millisecond))
	return b.String()
}

// Drive sends checkouts to the gateway at l.Rate until l.Duration, l.Requests or ctx ends, waits
// for the ones in flight, and returns the counts. observe, when set, sees every checkout (from
// several goroutines at once).
func Drive(ctx context.Context, l Load, observe func(Checkout)) (Summary, error) {
	if err := l.Validate(); err != nil {
		return Summary{}, err
	}
	if l.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Duration)
		defer cancel()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = l.MaxInFlight
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: requestTimeout}

	rng := rand.New(rand.NewPCG(l.Seed, 0xc0ffee))
	sum := Summary{ByStatus: map[int]int{}}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		inFlight int
	)
	record := func(c Checkout) {
		mu.Lock()
		inFlight--
		if c.Err != nil {
			sum.Failed++
		} else {
			sum.ByStatus[c.Status]++
			sum.totalLat += c.Latency
			sum.MaxLat = max(sum.MaxLat, c.Latency)
		}
		mu.Unlock()
		if observe != nil {
			observe(c)
		}
	}

	tick := time.NewTicker(time.Duration(float64(time.Second) / l.Rate))
	defer tick.Stop()
	var progress <-chan time.Time
	if l.Progress != nil && l.ProgressEvery > 0 {
		pt := time.NewTicker(l.ProgressEvery)
		defer pt.Stop()
		progress = pt.C
	}
	// Requests in flight finish even when ctx ends: a stop (Ctrl-C, -duration) must not turn into
	// a burst of client-side errors in the shop's telemetry.
	reqCtx := context.WithoutCancel(ctx)
loop:
	for l.Requests == 0 || sum.Sent < l.Requests {
		select {
		case <-ctx.Done():
			break loop
		case <-progress:
			mu.Lock()
			line := sum.String()
			mu.Unlock()
			_, _ = fmt.Fprintln(l.Progress, "driver:", line)
			continue
		case <-tick.C:
		}
		cart, cust := nextCart(rng)
		mu.Lock()
		if inFlight >= l.MaxInFlight {
			sum.Skipped++
			mu.Unlock()
			continue
		}
		inFlight++
		sum.Sent++
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			record(sendCheckout(reqCtx, client, l.Target, cart, cust))
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return sum, err
	}
	return sum, nil
}

// nextCart draws the next customer and cart: 1–3 products, a card from the customer's wallet.
func nextCart(rng *rand.Rand) (checkoutRequest, customer) {
	cust := customers[rng.IntN(len(customers))]
	n := 1 + rng.IntN(3)
	items := make([]lineItem, 0, n)
	for _, i := range rng.Perm(len(products))[:n] {
		items = append(items, lineItem{SKU: products[i].SKU, Quantity: 1 + rng.Int64N(3)})
	}
	currency := "EUR"
	if rng.IntN(4) == 0 {
		currency = "USD"
	}
	return checkoutRequest{CardNumber: testCards[rng.IntN(len(testCards))], Currency: currency, Items: items}, cust
}

func sendCheckout(ctx context.Context, client *http.Client, target string, cart checkoutRequest, cust customer) Checkout {
	c := Checkout{CardNumber: cart.CardNumber, CustomerEmail: cust.Email}
	body, err := json.Marshal(cart)
	if err != nil {
		c.Err = fmt.Errorf("encode cart: %w", err)
		return c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"/checkout", bytes.NewReader(body))
	if err != nil {
		c.Err = fmt.Errorf("checkout request: %w", err)
		return c
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cust.Token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.Err = err
		return c
	}
	defer func() { _ = resp.Body.Close() }()
	var answer checkoutResponse
	if err := decodeJSON(resp.Body, &answer); err != nil {
		c.Err = fmt.Errorf("checkout answer %d: %w", resp.StatusCode, err)
		return c
	}
	c.Latency = time.Since(start)
	c.Status = resp.StatusCode
	c.CorrelationID = resp.Header.Get("X-Correlation-Id")
	c.OrderID = answer.OrderID
	return c
}
