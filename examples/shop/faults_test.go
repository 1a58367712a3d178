package main

import (
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCorrelationIDsAreSeededUUIDs(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b, other := newCorrelationIDs(1), newCorrelationIDs(1), newCorrelationIDs(2)
	seen := map[string]bool{}
	differ := 0
	for range 1000 {
		id := a.next()
		require.Regexp(t, uuid, id)
		require.False(t, seen[id], "id %s repeated", id)
		seen[id] = true
		assert.Equal(t, id, b.next(), "same seed, same sequence")
		if other.next() != id {
			differ++
		}
	}
	assert.Equal(t, 1000, differ, "another seed gives other ids")
}

// TestFaultPlan: decisions are a function of seed and correlation id, independent of each other,
// and their frequencies follow the configured rates.
func TestFaultPlan(t *testing.T) {
	f := Faults{Seed: 42, DeclineRate: 0.1, ProviderErrorRate: 0.05, SlowOrderRate: 0.2, SlowOrderDelay: time.Second}
	ids := newCorrelationIDs(99)
	const n = 20000
	counts := map[paymentOutcome]int{}
	slow, slowAndDeclined, sameUnderOtherSeed := 0, 0, 0
	other := f
	other.Seed = 43
	codes := map[string]int{}
	for range n {
		id := ids.next()
		outcome, code := f.payment(id)
		again, againCode := f.payment(id)
		require.Equal(t, outcome, again)
		require.Equal(t, code, againCode)
		counts[outcome]++
		if outcome == paymentDeclined {
			require.Contains(t, declineCodes, code)
			codes[code]++
		} else {
			require.Empty(t, code)
		}
		if f.slowOrder(id) {
			slow++
			if outcome == paymentDeclined {
				slowAndDeclined++
			}
		}
		if o, _ := other.payment(id); o == outcome {
			sameUnderOtherSeed++
		}
		lat := f.writeLatency(id)
		require.True(t, lat >= time.Millisecond && lat <= 6*time.Millisecond, "write latency %s", lat)
		require.Less(t, f.providerFailure(id), len(providerFailures))
	}
	near := func(name string, got int, rate float64) {
		// 5 standard deviations of a binomial count: never fails by chance at these sizes.
		sd := math.Sqrt(n * rate * (1 - rate))
		assert.InDelta(t, n*rate, float64(got), 5*sd, "%s: %d of %d", name, got, n)
	}
	near("declined", counts[paymentDeclined], f.DeclineRate)
	near("provider errors", counts[paymentProviderError], f.ProviderErrorRate)
	near("slow", slow, f.SlowOrderRate)
	near("slow and declined (independent decisions)", slowAndDeclined, f.SlowOrderRate*f.DeclineRate)
	assert.Len(t, codes, len(declineCodes), "every decline code occurs")
	assert.Less(t, sameUnderOtherSeed, n*95/100, "another seed gives another plan")

	none := Faults{Seed: 42}
	all := Faults{Seed: 42, DeclineRate: 1, SlowOrderRate: 1}
	for range 100 {
		id := ids.next()
		o, _ := none.payment(id)
		assert.Equal(t, paymentApproved, o)
		assert.False(t, none.slowOrder(id))
		o, _ = all.payment(id)
		assert.Equal(t, paymentDeclined, o)
		assert.True(t, all.slowOrder(id))
	}
}

func TestFaultsValidate(t *testing.T) {
	ok := Faults{DeclineRate: 0.5, ProviderErrorRate: 0.5, SlowOrderRate: 1, SlowOrderDelay: maxSlowOrderDelay}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name   string
		mutate func(*Faults)
		want   string
	}{
		{"negative", func(f *Faults) { f.DeclineRate = -0.1 }, "-decline-rate -0.1 must be from 0 to 1"},
		{"above one", func(f *Faults) { f.SlowOrderRate = 1.5 }, "-slow-rate 1.5 must be from 0 to 1"},
		{"NaN", func(f *Faults) { f.ProviderErrorRate = math.NaN() }, "-provider-error-rate NaN must be from 0 to 1"},
		{"sum", func(f *Faults) { f.DeclineRate = 0.6 }, "-decline-rate + -provider-error-rate (1.1) must not exceed 1"},
		{"delay", func(f *Faults) { f.SlowOrderDelay = time.Minute }, "-slow-delay 1m0s must be from 0s to 30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.mutate(&f)
			require.EqualError(t, f.Validate(), tc.want)
		})
	}
}

// TestTestCardsAreValidCardNumbers: the driver's cards pass the checks a card detector makes
// (Luhn), so masking them is a real test of the agent.
func TestTestCardsAreValidCardNumbers(t *testing.T) {
	for _, card := range testCards {
		var digits []int
		for _, r := range card {
			if r >= '0' && r <= '9' {
				digits = append(digits, int(r-'0'))
			}
		}
		require.True(t, len(digits) >= 13 && len(digits) <= 19, card)
		sum := 0
		for i := range digits {
			d := digits[len(digits)-1-i]
			if i%2 == 1 {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		assert.Zero(t, sum%10, "%s passes the Luhn check", card)
	}
}
