// Package alert decides when an error-rate rule fires and resolves. A rule
// breaches in a window when the window has at least MinRecords records and
// meets every threshold set (ratio, error count). Hysteresis: FireAfter
// consecutive breaching windows fire it, ResolveAfter consecutive
// non-breaching windows resolve it, so a flapping rate does not flood the
// alert pipeline.
package alert // import "github.com/sluicelogs/sluice/connector/errorrateconnector/internal/alert"

// Rule is one alert rule's thresholds.
type Rule struct {
	// Name identifies the rule in events.
	Name string
	// RatioThreshold fires when errors/records >= it; 0 disables the check.
	RatioThreshold float64
	// ErrorsThreshold fires when errors >= it; 0 disables the check.
	ErrorsThreshold uint64
	// MinRecords is the minimum-sample guard: windows with fewer records never breach.
	MinRecords uint64
	// FireAfter is the number of consecutive breaching windows that fire the rule.
	FireAfter int
	// ResolveAfter is the number of consecutive healthy windows that resolve it.
	ResolveAfter int
}

// Breaches reports whether a window with these counts breaches the rule.
func (r *Rule) Breaches(records, errors uint64) bool {
	if records == 0 || records < r.MinRecords {
		return false
	}
	if r.RatioThreshold > 0 && float64(errors)/float64(records) < r.RatioThreshold {
		return false
	}
	if r.ErrorsThreshold > 0 && errors < r.ErrorsThreshold {
		return false
	}
	return r.RatioThreshold > 0 || r.ErrorsThreshold > 0
}

// Transition is what one window did to a rule's state.
type Transition uint8

const (
	// None means the state did not change.
	None Transition = iota
	// Fired means the rule started firing.
	Fired
	// Resolved means a firing rule resolved.
	Resolved
)

// State is one rule's state for one group. The zero value is "not firing".
type State struct {
	firing bool
	streak int
}

// Restored returns the state of a rule that was firing before a restart.
// The streak starts over: windows missed while down were not observed.
func Restored(firing bool) State { return State{firing: firing} }

// Firing reports whether the rule is firing.
func (s *State) Firing() bool { return s.firing }

// Observe feeds one window's verdict and returns the resulting transition.
func (s *State) Observe(r *Rule, breach bool) Transition {
	if breach != s.firing {
		s.streak++
	} else {
		s.streak = 0
	}
	switch {
	case !s.firing && s.streak >= max(r.FireAfter, 1):
		s.firing, s.streak = true, 0
		return Fired
	case s.firing && s.streak >= max(r.ResolveAfter, 1):
		s.firing, s.streak = false, 0
		return Resolved
	}
	return None
}
