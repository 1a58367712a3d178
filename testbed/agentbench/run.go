package agentbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/monitor"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// Config shapes one run.
type Config struct {
	// Rate is lines written per second.
	Rate float64
	// Duration of the measured write phase.
	Duration time.Duration
	// WorkDir holds one directory per target (log file, agent state, config, agent log).
	WorkDir string
	// WarmupTimeout bounds the wait for the first warm-up line to arrive
	// (default 30 s): until then the agent may not have found the file yet.
	WarmupTimeout time.Duration
	// DrainTimeout bounds the wait for the last lines after the writer
	// stopped (default 30 s).
	DrainTimeout time.Duration
}

const (
	defaultWarmupTimeout = 30 * time.Second
	defaultDrainTimeout  = 30 * time.Second
	// warmupEvery is the pace of warm-up lines until the first one arrives.
	warmupEvery = 100 * time.Millisecond
	// sampleEvery is the CPU/RSS sampling interval.
	sampleEvery = 250 * time.Millisecond
	// drainPoll is how often the sink's count is checked while draining.
	drainPoll = 20 * time.Millisecond
)

// Result is one target's outcome.
type Result struct {
	Target   string
	Settings []string // --set overrides, empty for the config as shipped
	Env      []string // extra environment of the agent
	// Written lines and the wall time the writer took.
	Written      uint64
	WriteElapsed time.Duration
	// DeliveredInWindow is how many measured lines had arrived when the
	// writer stopped; Drain is how long the rest took.
	DeliveredInWindow uint64
	Drain             time.Duration
	// Accounting compares written and arrived ids (loss, duplicates, unexpected).
	Accounting validate.Report
	// Resources of the agent process during the write phase.
	Resources monitor.Stats
	Latency   Percentiles
	// Timeline summarises latency per second of writing, to tell a steady
	// state from stalls (on a shared machine, other processes' bursts).
	Timeline Timeline
	// LoadBefore is the 1/5/15-minute load average when the target started.
	LoadBefore string
	// MachineBusy is the share of all CPUs busy during the write phase
	// (every process, the agent and the benchmark included); -1 if unknown.
	MachineBusy float64
	// Leaked records still carried planted PII; FirstLeak describes one.
	Leaked    uint64
	FirstLeak string
	// NoWriteTime records gave no write time, so have no latency.
	NoWriteTime uint64
	Unexpected  uint64
	// MustMask is copied from the target: whether Leaked fails the run.
	MustMask bool
	// Peer runs PeerConfig instead of the sluice agent config.
	Peer bool
	// AgentLog is the agent's log file (kept when the run failed).
	AgentLog string
	Err      error

	written *validate.Multiset // ids the writer wrote
}

// WrittenPerSecond is the rate the writer achieved.
func (r Result) WrittenPerSecond() float64 {
	if r.WriteElapsed <= 0 {
		return 0
	}
	return float64(r.Written) / r.WriteElapsed.Seconds()
}

// SustainedPerSecond is lines delivered while the writer ran, per second of
// writing: below the written rate when the agent fell behind.
func (r Result) SustainedPerSecond() float64 {
	if r.WriteElapsed <= 0 {
		return 0
	}
	return float64(r.DeliveredInWindow) / r.WriteElapsed.Seconds()
}

// CPUMicrosPerLine is agent CPU time per written line during the write phase.
func (r Result) CPUMicrosPerLine() float64 {
	if r.Written == 0 {
		return 0
	}
	return r.Resources.CPUSeconds * 1e6 / float64(r.Written)
}

// Run measures each target in turn; a failed target does not stop the others.
func Run(ctx context.Context, cfg Config, targets []Target) []Result {
	results := make([]Result, 0, len(targets))
	for i, t := range targets {
		dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("%d-%s", i, sanitize(t.Name)))
		_ = os.RemoveAll(dir)
		r := RunOne(ctx, cfg, t, dir)
		if r.Err == nil {
			_ = os.RemoveAll(dir) // log files are large; keep them only to debug failures
		}
		results = append(results, r)
	}
	return results
}

// RunOne measures one target in dir: start the sink and the agent, write
// warm-up lines until one arrives, write the measured lines at cfg.Rate for
// cfg.Duration while sampling the agent, wait for the rest to arrive, stop
// the agent (it flushes) and the sink, and account for every line.
func RunOne(ctx context.Context, cfg Config, t Target, dir string) Result {
	res := Result{Target: t.Name, Settings: t.Set, Env: t.Env, MustMask: t.MustMask, Peer: t.Config == "", LoadBefore: monitor.LoadAverage()}
	if cfg.WarmupTimeout <= 0 {
		cfg.WarmupTimeout = defaultWarmupTimeout
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = defaultDrainTimeout
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		res.Err = fmt.Errorf("rate (%v) and duration (%v) must be positive", cfg.Rate, cfg.Duration)
		return res
	}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		res.Err = fmt.Errorf("create %s: %w", logDir, err)
		return res
	}
	// The file exists (empty) before the agent starts, so start_at: end
	// misses nothing and neither agent waits for a directory scan.
	logPath := filepath.Join(logDir, "app.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		res.Err = fmt.Errorf("create %s: %w", logPath, err)
		return res
	}
	run, warm := loadgen.NewRunID(), loadgen.NewRunID()
	sink, err := StartSink(run+"-f", warm+"-f")
	if err != nil {
		res.Err = err
		return res
	}
	defer func() { _ = sink.Stop() }() // stops early paths; the normal path stops it after the agent
	agent, err := startAgent(ctx, t, dir, logDir, sink.Endpoint)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", t.Name, err)
		return res
	}
	res.AgentLog = agent.proc.LogPath
	measureErr := measure(ctx, cfg, &res, agent, sink, logPath, run, warm)
	stopErr := agent.stop() // after the drain, so whatever it still held is flushed to the sink
	sinkErr := sink.Stop()
	if err := errors.Join(measureErr, stopErr, sinkErr); err != nil {
		res.Err = fmt.Errorf("run %s: %w (agent log %s)", t.Name, err, res.AgentLog)
		return res
	}
	res.Err = account(&res, sink.Stats())
	return res
}

// measure runs the warm-up, the measured write phase and the drain.
func measure(ctx context.Context, cfg Config, res *Result, agent *runningAgent, sink *Sink, logPath, run, warm string) error {
	if err := warmUp(ctx, cfg.WarmupTimeout, sink, logPath, warm); err != nil {
		return err
	}
	sampler, err := monitor.Start(agent.proc.Pid(), sampleEvery)
	if err != nil {
		return fmt.Errorf("sample agent: %w", err)
	}
	busyBefore, busyErr := readCPUTimes()
	wr, werr := loadgen.WriteFile(ctx, loadgen.FileConfig{Path: logPath, Rate: cfg.Rate, Duration: cfg.Duration, AppLog: true, RunID: run})
	res.DeliveredInWindow = sink.Measured()
	writeEnd := time.Now()
	res.Resources = sampler.Stop()
	res.MachineBusy = -1
	if busyAfter, err := readCPUTimes(); err == nil && busyErr == nil {
		res.MachineBusy = busyAfter.busyShareSince(busyBefore)
	}
	if werr != nil {
		return fmt.Errorf("write lines: %w", werr)
	}
	res.Written, res.WriteElapsed = wr.Written.Total(), wr.Elapsed
	res.Accounting.Sent = res.Written
	drained := waitFor(ctx, cfg.DrainTimeout, func() bool { return sink.ReceivedAll(wr.Written) })
	if last := sink.LastArrival(); last.After(writeEnd) {
		res.Drain = last.Sub(writeEnd)
	}
	if !drained {
		// Not an error by itself: accounting after the agent's flush says what is missing.
		res.Drain = cfg.DrainTimeout
	}
	res.written = wr.Written
	return nil
}

// warmUp writes one warm-up line every warmupEvery until the sink saw one:
// from then on the agent is tailing the file and its pipeline is connected.
func warmUp(ctx context.Context, timeout time.Duration, sink *Sink, logPath, warm string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(warmupEvery)
	defer tick.Stop()
	for sink.Warmup() == 0 {
		if _, err := loadgen.WriteFile(ctx, loadgen.FileConfig{Path: logPath, Lines: 1, AppLog: true, RunID: warm}); err != nil {
			return fmt.Errorf("write warm-up line: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no warm-up line arrived at the sink within %s", timeout)
		case <-tick.C:
		}
	}
	return nil
}

// waitFor polls done until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(drainPoll)
	}
	return true
}

// account fills the accounting, latency and masking figures from what the
// sink saw and says what is wrong.
func account(res *Result, st SinkStats) error {
	if res.written == nil {
		return errors.New("no lines were written")
	}
	res.Accounting = validate.Account(res.written, validate.Outcome{Delivered: st.Received})
	res.Latency, res.Timeline = summarizeLatencies(st.Latencies)
	res.Leaked, res.FirstLeak = st.Leaked, st.FirstLeak
	res.NoWriteTime, res.Unexpected = st.NoWriteTime, st.Unexpected
	var errs []error
	if err := res.Accounting.Err(false); err != nil {
		errs = append(errs, fmt.Errorf("accounting: %w", err))
	}
	if res.MustMask && st.Leaked > 0 {
		errs = append(errs, fmt.Errorf("%d records still carry planted PII, e.g. %s", st.Leaked, st.FirstLeak))
	}
	if st.NoWriteTime > 0 {
		errs = append(errs, fmt.Errorf("%d records carry no write time", st.NoWriteTime))
	}
	if st.Unexpected > 0 {
		errs = append(errs, fmt.Errorf("%d records without a known test id", st.Unexpected))
	}
	return errors.Join(errs...)
}

func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
