package window

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestTumblingBuckets(t *testing.T) {
	s := Spec{Size: time.Minute, Step: time.Minute, Lateness: 10 * time.Second}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	b := s.Bucket(t0.Add(59 * time.Second))
	if s.Bucket(t0) != b || s.Bucket(t0.Add(time.Minute)) != b+1 {
		t.Fatal("bucket boundaries are not on the minute")
	}
	if !s.Start(b).Equal(t0) || !s.End(b).Equal(t0.Add(time.Minute)) || !s.WindowStart(b).Equal(t0) {
		t.Fatalf("bounds of %d: %v..%v", b, s.Start(b), s.End(b))
	}
	// The 10:00 bucket closes at 10:01:10, not before.
	if got := s.LastClosable(t0.Add(time.Minute + 9*time.Second)); got != b-1 {
		t.Fatalf("closable at 10:01:09 = %d, want %d", got, b-1)
	}
	if got := s.LastClosable(t0.Add(time.Minute + 10*time.Second)); got != b {
		t.Fatalf("closable at 10:01:10 = %d, want %d", got, b)
	}
	if s.Buckets() != 1 || s.RingLen() != 3 {
		t.Fatalf("buckets %d ring %d", s.Buckets(), s.RingLen())
	}
}

func TestSlidingWindow(t *testing.T) {
	s := Spec{Size: 5 * time.Minute, Step: time.Minute}
	b := s.Bucket(t0)
	if !s.WindowStart(b).Equal(t0.Add(-4 * time.Minute)) {
		t.Fatalf("window start %v", s.WindowStart(b))
	}
	if s.Buckets() != 5 || s.RingLen() != 6 {
		t.Fatalf("buckets %d ring %d", s.Buckets(), s.RingLen())
	}
}

func TestNegativeTimesFloor(t *testing.T) {
	s := Spec{Size: time.Second, Step: time.Second}
	if got := s.Bucket(time.Unix(0, -1)); got != -1 {
		t.Fatalf("bucket of -1ns = %d, want -1", got)
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Spec{
		{Size: 0, Step: time.Second},
		{Size: 90 * time.Second, Step: time.Minute},
		{Size: time.Minute, Step: time.Minute, Lateness: -1},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
