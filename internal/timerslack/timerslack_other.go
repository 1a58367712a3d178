//go:build !linux

package timerslack

import (
	"errors"
	"time"
)

// Apply does nothing: timer slack is a Linux setting.
func Apply(time.Duration) error { return nil }

// Current reports that there is no timer slack to read.
func Current() (time.Duration, error) {
	return 0, errors.New("timer slack is a Linux setting")
}
