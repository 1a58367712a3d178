package ack

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDoneWhenLastHoldReleased(t *testing.T) {
	var got []error
	b := NewBatch(func(err error) { got = append(got, err) })
	b.Hold()
	b.Hold()
	b.Release(nil) // the creator's hold
	b.Release(nil)
	if len(got) != 0 {
		t.Fatalf("done before the last hold: %v", got)
	}
	b.Release(nil)
	if len(got) != 1 || got[0] != nil {
		t.Fatalf("onDone calls = %v, want one nil", got)
	}
}

func TestFirstErrorWins(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	var got error
	b := NewBatch(func(err error) { got = err })
	b.Hold()
	b.Hold()
	b.Release(first)
	b.Release(second)
	b.Release(nil)
	if got != first {
		t.Fatalf("err = %v, want %v", got, first)
	}
}

func TestConcurrentReleases(t *testing.T) {
	const n = 1000
	calls := 0
	var mu sync.Mutex
	b := NewBatch(func(error) { mu.Lock(); calls++; mu.Unlock() })
	var wg sync.WaitGroup
	for range n {
		b.Hold()
	}
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); b.Release(nil) }()
	}
	wg.Wait()
	b.Release(nil)
	if calls != 1 {
		t.Fatalf("onDone ran %d times", calls)
	}
}

func TestContextAndCancel(t *testing.T) {
	if FromContext(context.Background()) != nil {
		t.Fatal("batch in an empty context")
	}
	b := NewBatch(nil)
	ctx := NewContext(context.Background(), b)
	if FromContext(ctx) != b {
		t.Fatal("batch not carried by the context")
	}
	if b.Cancelled() {
		t.Fatal("new batch cancelled")
	}
	b.Cancel()
	if !b.Cancelled() {
		t.Fatal("Cancel not seen")
	}
	b.Release(nil)
}

func TestReleaseWithoutHoldPanics(t *testing.T) {
	b := NewBatch(nil)
	b.Release(nil)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on an unmatched Release")
		}
	}()
	b.Release(nil)
}
