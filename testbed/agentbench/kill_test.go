package agentbench

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// TestAgentKill9LosesNothing runs the shipped agent config (file_tail →
// pii_mask → otlp_forward with a persistent queue) while lines are appended,
// takes the gateway away, kills the agent with SIGKILL during the outage
// (its disk queue then holds accepted lines), restarts it on the same state
// directory, brings the gateway back, kills it again while it catches up,
// and restarts it once more: every written line must reach the gateway at
// least once, masked. Re-sent lines (read again after the last saved offset,
// or sent but not yet removed from the queue) are duplicates, reported.
func TestAgentKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the agent binary")
	}
	bin := backend.SluiceBinary(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	logPath := filepath.Join(logDir, "app.log")
	require.NoError(t, os.MkdirAll(logDir, 0o755))
	require.NoError(t, os.WriteFile(logPath, nil, 0o644)) // exists before the agent starts (start_at: end)
	run, warm := loadgen.NewRunID(), loadgen.NewRunID()
	sink, err := StartSink(run+"-f", warm+"-f")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Stop() })

	ctx := context.Background()
	target := Target{Name: "sluice", Binary: bin, Config: filepath.Join(moduleRoot(t), "configs", "agent.yaml"), MustMask: true}
	agentDir := filepath.Join(dir, "agent")
	require.NoError(t, os.MkdirAll(agentDir, 0o755))
	start := func() *runningAgent {
		a, err := startAgent(ctx, target, agentDir, logDir, sink.Endpoint)
		require.NoError(t, err)
		return a
	}
	agent := start()
	t.Cleanup(func() { _ = agent.proc.Stop() })
	require.NoError(t, warmUp(ctx, defaultWarmupTimeout, sink, logPath, warm))

	written := make(chan *loadgen.FileResult, 1)
	go func() {
		wr, err := loadgen.WriteFile(ctx, loadgen.FileConfig{Path: logPath, Rate: 2000, Duration: 8 * time.Second, AppLog: true, RunID: run})
		if err != nil {
			t.Errorf("write lines: %v", err)
		}
		written <- wr
	}()
	kill := func() {
		require.NoError(t, syscall.Kill(agent.proc.Pid(), syscall.SIGKILL))
		require.Eventually(t, agent.proc.Exited, 10*time.Second, 20*time.Millisecond, "agent survived SIGKILL")
		_ = agent.proc.Stop() // closes its log file
	}

	time.Sleep(1500 * time.Millisecond)
	sink.SetUnavailable(true) // gateway outage: the agent queues on disk
	time.Sleep(1500 * time.Millisecond)
	kill() // with the outage's lines in its queue
	agent = start()
	time.Sleep(1500 * time.Millisecond)
	sink.SetUnavailable(false)
	time.Sleep(1 * time.Second)
	kill() // while it catches up
	agent = start()

	wr := <-written
	require.NotNil(t, wr)
	// Lines still unread when the agent stops would only be read after a
	// restart: wait for every id, not for a count duplicates reach early.
	drained := waitFor(ctx, 90*time.Second, func() bool { return sink.ReceivedAll(wr.Written) })
	require.NoError(t, agent.stop())
	require.NoError(t, sink.Stop())
	st := sink.Stats()
	report := validate.Account(wr.Written, validate.Outcome{Delivered: st.Received})
	t.Logf("written %d, drained %v: %s", wr.Written.Total(), drained, report)
	require.NoError(t, report.Err(true), "every written line delivered at least once")
	require.Zero(t, st.Leaked, "PII left, e.g. %s", st.FirstLeak)
	require.Zero(t, st.Unexpected)
}
