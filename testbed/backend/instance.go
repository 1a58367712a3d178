package backend

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Options control how a server is started outside a test.
type Options struct {
	// RunDir holds the instance's data, config, log and pid file. Empty means a
	// fresh temporary directory, removed by Stop.
	RunDir string
	// Logf receives progress messages (install and start durations); may be nil.
	Logf func(format string, args ...any)
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// instance is the part every started server shares: its process, its run
// directory and how long it took to install and to start.
type instance struct {
	proc       *Process
	runDir     string
	tempRunDir bool
	// InstallTime is how long the one-time download/build took in this call
	// (near zero when the cache was warm).
	InstallTime time.Duration
	// StartTime is from process launch until the server answered its readiness check.
	StartTime time.Duration
}

// Pid is the server's process group id, or 0 when the server was reused from
// the environment.
func (i *instance) Pid() int {
	if i.proc == nil {
		return 0
	}
	return i.proc.Pid()
}

// RunDir is the instance's directory (data, config, server.log), empty when reused.
func (i *instance) RunDir() string { return i.runDir }

// LogPath is the server log file, empty when reused.
func (i *instance) LogPath() string {
	if i.proc == nil {
		return ""
	}
	return i.proc.LogPath
}

// Stop stops the server and removes a temporary run directory. It does
// nothing for a server reused from the environment.
func (i *instance) Stop() error {
	if i.proc == nil {
		return nil
	}
	err := i.proc.Stop()
	if i.tempRunDir {
		if rmErr := os.RemoveAll(i.runDir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove run dir: %w", rmErr)
		}
	}
	return err
}

// stopAfter is the t.Cleanup of the XxxFor helpers: when the test failed the
// server log tail is printed and the run directory kept for inspection.
func (i *instance) stopAfter(t testing.TB, name string) {
	if i.proc == nil {
		return
	}
	if t.Failed() {
		i.tempRunDir = false
		t.Logf("%s log kept at %s; last lines:\n%s", name, i.proc.LogPath, i.proc.LogTail())
	}
	if err := i.Stop(); err != nil {
		t.Errorf("stop %s: %v", name, err)
	}
}

// portAttempts bounds retries when another process grabs a chosen port first.
const portAttempts = 3

// launch starts a server with fresh ports until it passes ready or fails for
// a reason other than a port collision.
func launch(ctx context.Context, name string, nPorts int, readyTimeout time.Duration,
	start func(ports []int) (*Process, error), ready func(ctx context.Context, ports []int) error,
) (*Process, []int, time.Duration, error) {
	for range portAttempts {
		ports, err := FreePorts(nPorts)
		if err != nil {
			return nil, nil, 0, err
		}
		began := time.Now()
		proc, err := start(ports)
		if err != nil {
			return nil, nil, 0, err
		}
		err = proc.WaitReady(ctx, readyTimeout, func(ctx context.Context) error { return ready(ctx, ports) })
		if err == nil {
			return proc, ports, time.Since(began), nil
		}
		_ = proc.Stop()
		if !portInUse(proc.LogTail()) {
			return nil, nil, 0, err
		}
	}
	return nil, nil, 0, fmt.Errorf("start %s: %w", name, errStartRetries)
}
