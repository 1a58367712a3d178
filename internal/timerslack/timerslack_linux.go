//go:build linux

package timerslack

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Current returns the calling thread's timer slack.
func Current() (time.Duration, error) {
	ns, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("read timer slack: %w", err)
	}
	return time.Duration(ns), nil
}

// Apply makes d the timer slack of every thread of the process, re-executing
// the binary (same arguments and environment) if the current thread's slack
// is lower. Call it first thing, from an init function (which runs on the
// process's main thread): everything done before is lost in the re-exec.
func Apply(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	// The slack is set on this thread and must be the one that calls exec.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := Current()
	if err != nil {
		return err
	}
	if cur >= d {
		os.Unsetenv(reexecMarker)
		return nil
	}
	if os.Getenv(reexecMarker) != "" {
		os.Unsetenv(reexecMarker)
		return errors.New("timer slack not kept across exec; running with the kernel's default")
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d), 0, 0, 0); err != nil {
		return fmt.Errorf("set timer slack: %w", err)
	}
	// /proc/self/exe is the running binary even if its file was since
	// replaced or removed (an upgrade in place).
	env := append(os.Environ(), reexecMarker+"=1")
	if err := syscall.Exec("/proc/self/exe", os.Args, env); err != nil {
		return fmt.Errorf("timer slack: re-execute /proc/self/exe: %w", err)
	}
	return nil // not reached
}
