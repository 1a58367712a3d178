package topk

import (
	"fmt"
	"hash/fnv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func hashOf(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

func add(s *Sketch, key string, n uint64) { s.Add(hashOf(key), []byte(key), n) }

func TestExactWhileUnderCapacity(t *testing.T) {
	s := New(4)
	add(s, "a", 3)
	add(s, "b", 1)
	add(s, "a", 2)
	add(s, "c", 6)
	top := s.Top(2, nil)
	if len(top) != 2 || top[0].Key != "c" || top[0].Count != 6 || top[1].Key != "a" || top[1].Count != 5 {
		t.Fatalf("top = %+v", top)
	}
	if top[1].Overcount != 0 {
		t.Fatalf("exact counts must have no overcount: %+v", top)
	}
}

func TestHeavyHittersSurviveChurn(t *testing.T) {
	s := New(5)
	for i := range 1000 {
		add(s, "heavy", 1)
		if i%2 == 0 {
			add(s, "medium", 1)
		}
		add(s, fmt.Sprintf("noise-%d", i), 1)
	}
	if s.Len() != 5 {
		t.Fatalf("len = %d, want capacity 5", s.Len())
	}
	top := s.Top(2, nil)
	if top[0].Key != "heavy" || top[1].Key != "medium" {
		t.Fatalf("top = %+v", top)
	}
	if top[0].Count < 1000 || top[0].Count-top[0].Overcount > 1000 {
		t.Fatalf("heavy count %d (overcount %d) does not bound the true 1000", top[0].Count, top[0].Overcount)
	}
}

func TestRankByGuaranteedCount(t *testing.T) {
	// Every key more frequent than total/capacity (60/8) is kept.
	s := New(8)
	add(s, "heavy", 20)
	add(s, "medium", 10)
	for i := range 30 {
		add(s, fmt.Sprintf("rare-%d", i), 1)
	}
	top := s.Top(2, nil)
	if top[0].Key != "heavy" || top[1].Key != "medium" {
		t.Fatalf("churned slot outranks real keys: %+v", top)
	}
}

func TestMergeAndReset(t *testing.T) {
	a, b := New(3), New(3)
	add(a, "x", 2)
	add(b, "x", 3)
	add(b, "y", 1)
	m := New(6)
	for _, src := range []*Sketch{a, b} {
		for _, c := range src.Top(10, nil) {
			m.AddCounter(c)
		}
	}
	top := m.Top(10, nil)
	if len(top) != 2 || top[0].Key != "x" || top[0].Count != 5 || top[1].Key != "y" {
		t.Fatalf("merged = %+v", top)
	}
	m.Reset()
	if m.Len() != 0 || len(m.Top(3, nil)) != 0 {
		t.Fatal("reset sketch not empty")
	}
}

func TestTopAppendsAfterExisting(t *testing.T) {
	s := New(3)
	add(s, "k", 1)
	dst := []Counter{{Key: "pre"}}
	dst = s.Top(1, dst)
	if len(dst) != 2 || dst[0].Key != "pre" || dst[1].Key != "k" {
		t.Fatalf("dst = %+v", dst)
	}
}
