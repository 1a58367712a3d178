package alert

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBreaches(t *testing.T) {
	tests := []struct {
		name            string
		rule            Rule
		records, errors uint64
		want            bool
	}{
		{"ratio met", Rule{RatioThreshold: 0.05, MinRecords: 20}, 100, 5, true},
		{"ratio under", Rule{RatioThreshold: 0.05, MinRecords: 20}, 100, 4, false},
		{"sample guard", Rule{RatioThreshold: 0.05, MinRecords: 20}, 19, 19, false},
		{"no records", Rule{ErrorsThreshold: 1}, 0, 0, false},
		{"count met", Rule{ErrorsThreshold: 10}, 1000, 10, true},
		{"both must hold", Rule{RatioThreshold: 0.5, ErrorsThreshold: 10}, 1000, 20, false},
		{"both hold", Rule{RatioThreshold: 0.01, ErrorsThreshold: 10}, 1000, 20, true},
		{"no thresholds never breach", Rule{}, 10, 10, false},
	}
	for _, tt := range tests {
		if got := tt.rule.Breaches(tt.records, tt.errors); got != tt.want {
			t.Errorf("%s: Breaches(%d, %d) = %v, want %v", tt.name, tt.records, tt.errors, got, tt.want)
		}
	}
}

func TestHysteresis(t *testing.T) {
	r := &Rule{FireAfter: 2, ResolveAfter: 3}
	var s State
	steps := []struct {
		breach bool
		want   Transition
	}{
		{true, None},      // 1 breaching window: not yet
		{false, None},     // streak broken
		{true, None},      // 1
		{true, Fired},     // 2 in a row: fire
		{true, None},      // still firing
		{false, None},     // 1 healthy
		{false, None},     // 2 healthy
		{true, None},      // flap: resolve streak broken
		{false, None},     // 1
		{false, None},     // 2
		{false, Resolved}, // 3 in a row: resolve
		{false, None},
	}
	for i, st := range steps {
		if got := s.Observe(r, st.breach); got != st.want {
			t.Fatalf("step %d (breach=%v): got %v, want %v", i, st.breach, got, st.want)
		}
	}
	if s.Firing() {
		t.Fatal("still firing after resolve")
	}
}

func TestFireAfterOneByDefault(t *testing.T) {
	var s State
	r := &Rule{}
	if s.Observe(r, true) != Fired || s.Observe(r, false) != Resolved {
		t.Fatal("zero FireAfter/ResolveAfter must act as 1")
	}
}

func TestRestoredFiringResolvesWithoutFiringAgain(t *testing.T) {
	s := Restored(true)
	r := &Rule{FireAfter: 1, ResolveAfter: 2}
	if !s.Firing() {
		t.Fatal("restored state is not firing")
	}
	for i, st := range []struct {
		breach bool
		want   Transition
	}{{true, None}, {false, None}, {false, Resolved}} {
		if got := s.Observe(r, st.breach); got != st.want {
			t.Fatalf("step %d (breach=%v): got %v, want %v", i, st.breach, got, st.want)
		}
	}
}
