package main

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults says which requests fail and how. Every decision is a pure function of the seed and the
// request's correlation id, so a run is reproducible even though requests are served concurrently:
// the same seed gives the same correlation ids (see correlationIDs) and so the same outcomes.
type Faults struct {
	// Seed fixes correlation ids and fault decisions; 0 picks a random seed at start.
	Seed uint64
	// DeclineRate is the share of payments the card issuer declines (payment → HTTP 402, WARN log).
	DeclineRate float64
	// ProviderErrorRate is the share of payments that fail at the payment provider
	// (payment → HTTP 502, ERROR log with a stack trace, span status Error).
	ProviderErrorRate float64
	// SlowOrderRate is the share of order writes that take SlowOrderDelay.
	SlowOrderRate float64
	// SlowOrderDelay is how long a slow order write takes.
	SlowOrderDelay time.Duration
}

// Defaults: high enough that error-rate alerts fire and every sampling policy has work at the
// driver's default 5 requests/s, low enough that most checkouts succeed.
const (
	defaultDeclineRate       = 0.08
	defaultProviderErrorRate = 0.08
	defaultSlowOrderRate     = 0.05
	// Above the tail sampler's default latency threshold (2 s), so slow requests are kept.
	defaultSlowOrderDelay = 2500 * time.Millisecond
	// maxSlowOrderDelay keeps an in-flight request from outliving a graceful shutdown.
	maxSlowOrderDelay = 30 * time.Second
)

// Validate reports the first invalid setting, named by its command-line flag.
func (f Faults) Validate() error {
	for _, r := range []struct {
		flag string
		v    float64
	}{
		{"decline-rate", f.DeclineRate},
		{"provider-error-rate", f.ProviderErrorRate},
		{"slow-rate", f.SlowOrderRate},
	} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return fmt.Errorf("-%s %v must be from 0 to 1", r.flag, r.v)
		}
	}
	if f.DeclineRate+f.ProviderErrorRate > 1 {
		return fmt.Errorf("-decline-rate + -provider-error-rate (%v) must not exceed 1", f.DeclineRate+f.ProviderErrorRate)
	}
	if f.SlowOrderDelay < 0 || f.SlowOrderDelay > maxSlowOrderDelay {
		return fmt.Errorf("-slow-delay %s must be from 0s to %s", f.SlowOrderDelay, maxSlowOrderDelay)
	}
	return nil
}

// paymentOutcome is what the payment service does with a charge.
type paymentOutcome int

const (
	paymentApproved paymentOutcome = iota
	paymentDeclined
	paymentProviderError
)

func (o paymentOutcome) String() string {
	switch o {
	case paymentDeclined:
		return "declined"
	case paymentProviderError:
		return "provider_error"
	default:
		return "approved"
	}
}

// declineCodes are issuer answers, as card networks name them.
var declineCodes = []string{"insufficient_funds", "do_not_honor", "expired_card", "card_velocity_exceeded"}

// payment decides the outcome of the charge of request correlationID; declineCode is set for declines.
func (f Faults) payment(correlationID string) (outcome paymentOutcome, declineCode string) {
	u := f.unit("payment", correlationID)
	switch {
	case u < f.DeclineRate:
		return paymentDeclined, declineCodes[f.pick("decline-code", correlationID, len(declineCodes))]
	case u < f.DeclineRate+f.ProviderErrorRate:
		return paymentProviderError, ""
	default:
		return paymentApproved, ""
	}
}

// slowOrder reports whether the order write of request correlationID is slow.
func (f Faults) slowOrder(correlationID string) bool {
	return f.unit("order-slow", correlationID) < f.SlowOrderRate
}

// writeLatency is how long an ordinary order write of request correlationID takes: 1 to 6 ms,
// so traces have realistic shapes.
func (f Faults) writeLatency(correlationID string) time.Duration {
	return time.Duration(1+f.pick("order-latency", correlationID, 6)) * time.Millisecond
}

// providerFailure picks which provider failure request correlationID sees.
func (f Faults) providerFailure(correlationID string) int {
	return f.pick("provider-failure", correlationID, len(providerFailures))
}

// unit maps (seed, decision, correlation id) to a uniform number in [0, 1). Each decision hashes
// its own name in, so decisions of one request are independent of each other.
func (f Faults) unit(decision, correlationID string) float64 {
	return float64(f.hash(decision, correlationID)>>11) / (1 << 53)
}

func (f Faults) pick(decision, correlationID string, n int) int {
	return int(f.hash(decision, correlationID) % uint64(n))
}

func (f Faults) hash(decision, correlationID string) uint64 {
	h := fnv.New64a()
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], f.Seed)
	_, _ = h.Write(seed[:])
	_, _ = h.Write([]byte(decision))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(correlationID))
	// FNV alone mixes the last bytes poorly; the splitmix64 finalizer spreads them over all bits.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// correlationIDs hands out the gateway's per-request correlation ids. With the same seed the
// same sequence comes out, so a seeded run produces the same set of requests and outcomes.
type correlationIDs struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newCorrelationIDs(seed uint64) *correlationIDs {
	return &correlationIDs{rng: rand.New(rand.NewPCG(seed, 0x5a17c0de))}
}

func (c *correlationIDs) next() string {
	c.mu.Lock()
	hi, lo := c.rng.Uint64(), c.rng.Uint64()
	c.mu.Unlock()
	// UUID version 4 layout: log pipelines (pii_mask included) know to leave UUIDs alone.
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}
