package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a server gets after SIGTERM before SIGKILL.
	stopGrace = 20 * time.Second
	// logTailLines is how much of a server log goes into error messages.
	logTailLines = 40
)

// Process is one server started in its own process group, its output kept
// in a log file so failures can show what the server said.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	exited  chan struct{}
	waitErr error
}

// StartProcess launches cmd in a new process group with stdout and stderr
// appended to logPath.
func StartProcess(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, cmd.Path, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: logFile, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process (and process group) id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// WaitReady polls ready until it returns nil, the process exits, or timeout.
// Its error carries the last lines of the server log.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); last log lines of %s:\n%s", p.Name, p.waitErr, p.LogPath, p.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (last check: %v); last log lines of %s:\n%s", p.Name, timeout, last, p.LogPath, p.LogTail())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after a grace
// period, and waits for the leader to exit. Safe to call twice.
func (p *Process) Stop() error {
	defer p.logFile.Close()
	if p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.exited
	}
	// Children that outlived the leader (e.g. java under runuser) go too.
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	return nil
}

// LogTail returns the last lines of the server log.
func (p *Process) LogTail() string { return fileTail(p.LogPath, logTailLines) }

func fileTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	data = bytes.TrimRight(data, "\n")
	parts := bytes.Split(data, []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return string(bytes.Join(parts, []byte("\n")))
}

// FreePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portInUse reports whether a server log says its port was taken, so the
// caller can retry with other ports (another process won the race).
func portInUse(log string) bool {
	return strings.Contains(log, "Address already in use") || strings.Contains(log, "BindException") ||
		strings.Contains(log, "address already in use")
}

// runMaven runs mvn holding the cache's maven lock: parallel Maven runs
// (OpenSearch and Kafka installs) would otherwise write ~/.m2 concurrently.
func runMaven(ctx context.Context, dir string, args ...string) error {
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	return withLock(cache, "maven", func() error { return runLogged(ctx, dir, nil, "mvn", args...) })
}

// runLogged runs a short command (an install step) and returns its output in
// the error when it fails.
func runLogged(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail)
	}
	return nil
}

// makeRunDir creates a private directory for one server instance. With an
// explicit dir (the backends command) it is used as is.
func makeRunDir(dir, name string) (string, bool, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", false, fmt.Errorf("create run dir: %w", err)
		}
		return dir, false, nil
	}
	d, err := os.MkdirTemp("", "sluice-"+name+"-")
	if err != nil {
		return "", false, fmt.Errorf("create run dir: %w", err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		return "", false, fmt.Errorf("chmod run dir: %w", err)
	}
	return d, true, nil
}

// errStartRetries is returned when every port attempt collided.
var errStartRetries = errors.New("ports kept colliding with other processes")

// Probe checks that GET url answers 2xx within 10 s.
func Probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return httpOK(ctx, url)
}

// ProbeKafka checks that the brokers answer a metadata request within 10 s.
func ProbeKafka(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return kafkaReady(ctx, brokers)
}
