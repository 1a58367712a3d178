package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"time"
)

// Clock is the connector's time source, injected so that tests drive
// windows without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTicker returns a ticker firing every d.
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks until stopped.
type Ticker interface {
	// C returns the tick channel.
	C() <-chan time.Time
	// Stop stops the ticker.
	Stop()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }

func (r realTicker) Stop() { r.t.Stop() }

type clockKey struct{}

// contextWithClock makes the factory's create functions use clock (tests).
func contextWithClock(ctx context.Context, clock Clock) context.Context {
	return context.WithValue(ctx, clockKey{}, clock)
}

func clockFromContext(ctx context.Context) Clock {
	if c, ok := ctx.Value(clockKey{}).(Clock); ok {
		return c
	}
	return realClock{}
}
