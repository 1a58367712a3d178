package tailsamplingprocessor

import (
	"context"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
)

// wallStepClock returns times like time.Now: with a monotonic reading that
// only moves forward, and a wall clock that can be stepped (NTP).
type wallStepClock struct {
	mu      sync.Mutex
	base    time.Time
	elapsed time.Duration
	step    time.Duration
}

func (c *wallStepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.base.Add(c.elapsed)
	// time.Time with a monotonic reading keeps the wall seconds in bits
	// 30..62 of its first word; shift them without touching the reading.
	w := (*uint64)(unsafe.Pointer(&t))
	*w = uint64(int64(*w) + int64(c.step/time.Second)<<30)
	return t
}

func TestWallClockStepDoesNotChangeDecisionTimes(t *testing.T) {
	c := &wallStepClock{base: time.Now()}
	require.NotEqual(t, c.base, c.base.Round(0), "base must carry a monotonic reading")
	c.step = -time.Hour
	if stepped := c.now(); stepped.Unix() != c.base.Add(-time.Hour).Unix() || stepped.Sub(c.base) != 0 {
		// The fake relies on time.Time's layout; a Go release may change it.
		t.Skip("cannot fake a wall-clock step with this Go release's time.Time layout")
	}
	c.step = 0

	sink := new(consumertest.TracesSink)
	cfg := baseConfig(PolicyConfig{Name: "all", Type: policyAlways, Decision: decisionKeep})
	p, err := newFactory(c.now).CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	s := p.(*tracesProcessor).s
	advance := func(d time.Duration) {
		c.mu.Lock()
		c.elapsed += d
		c.mu.Unlock()
	}

	require.NoError(t, p.ConsumeTraces(context.Background(), spans(tid(1), 1)))
	advance(time.Second)
	c.mu.Lock()
	c.step = -time.Hour // NTP steps the wall clock back an hour
	c.mu.Unlock()
	require.NoError(t, p.ConsumeTraces(context.Background(), spans(tid(2), 1)))
	advance(cfg.DecisionWait)
	s.decideDue(context.Background())
	assert.Len(t, emittedSpans(sink), 2, "both groups are due decision_wait after their first record, whatever the wall clock did")

	// Stepped forward: a group just started is not due yet.
	c.mu.Lock()
	c.step = time.Hour
	c.mu.Unlock()
	require.NoError(t, p.ConsumeTraces(context.Background(), spans(tid(3), 1)))
	advance(time.Second)
	c.mu.Lock()
	c.step = 3 * time.Hour
	c.mu.Unlock()
	s.decideDue(context.Background())
	assert.Len(t, emittedSpans(sink), 2, "a forward step must not decide a young group")
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, emittedSpans(sink), 3)
}
