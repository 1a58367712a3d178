// Package timerslack raises the process's timer slack at startup, so the Go
// runtime's background monitor wakes up an order of magnitude less often.
//
// Why: while any goroutine runs, the runtime's monitor thread (sysmon) sleeps
// only 20 µs between checks, and it restarts at 20 µs every time the process
// wakes from idle and makes a system call. An agent tailing files works in
// short bursts (one per poll), so the monitor wakes thousands of times a
// second, each wake-up a timer interrupt and two context switches: on the
// agent benchmark about a sixth of the agent's CPU. Timer slack lets the
// kernel delay a thread's timer wake-ups by up to the slack to batch them;
// with 1 ms the monitor's 20 µs sleeps become ~1 ms and nothing else
// changes that matters to a log pipeline (timers fire up to 1 ms late;
// network and disk events are not delayed).
//
// The slack is a per-thread value that new threads copy from the thread that
// creates them, and the monitor thread exists before any of our code runs.
// So Apply sets the slack on the current thread and re-executes the binary:
// the new image's threads all descend from a thread with the slack.
package timerslack // import "github.com/sluicelogs/sluice/internal/timerslack"

import (
	"errors"
	"fmt"
	"os"
	"time"
)

const (
	// EnvVar sets the slack: a Go duration ("1ms", "500us") or "0"/"off" to
	// leave the process as started.
	EnvVar = "SLUICE_TIMER_SLACK"
	// Default is the slack when EnvVar is unset.
	Default = time.Millisecond
	// Max bounds the setting: more would delay timers (polls, flushes,
	// retries) noticeably for no further saving.
	Max = 10 * time.Millisecond
	// reexecMarker is set across the re-exec so a kernel that does not keep
	// the slack cannot make the process re-execute itself forever.
	reexecMarker = "SLUICE_TIMER_SLACK_REEXEC"
)

// ErrInvalid wraps a setting that is not a duration from 0 to Max.
var ErrInvalid = errors.New("invalid " + EnvVar)

// Parse reads a setting of EnvVar ("" means Default).
func Parse(v string) (time.Duration, error) {
	switch v {
	case "":
		return Default, nil
	case "0", "off", "false":
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > Max {
		return 0, fmt.Errorf("%w %q: want a duration from 0 to %s (e.g. 1ms), or off", ErrInvalid, v, Max)
	}
	return d, nil
}

// FromEnvironment applies the slack EnvVar asks for. It returns an error
// wrapping ErrInvalid for a bad setting (the caller should stop), and any
// other error when the slack could not be applied (the process runs on as
// it was, so the caller should only warn). On success it may not return:
// the process re-executes itself.
func FromEnvironment() error {
	d, err := Parse(os.Getenv(EnvVar))
	if err != nil {
		return err
	}
	return Apply(d)
}
