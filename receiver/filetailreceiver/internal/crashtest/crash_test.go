package crashtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver"
)

const (
	envChild   = "FILE_TAIL_CRASH_CHILD"
	envLogDir  = "FILE_TAIL_CRASH_LOGS"
	envOut     = "FILE_TAIL_CRASH_OUT"
	envState   = "FILE_TAIL_CRASH_STATE"
	envReady   = "FILE_TAIL_CRASH_READY" // file the child creates once it handles SIGTERM
	batchLimit = 50
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// runChild is the agent: file_tail with a checkpoint directory, delivering to
// a consumer that appends bodies to a file and fsyncs before accepting (a
// stand-in for a persistent queue).
func runChild() int {
	// Handle SIGTERM before anything else, so a parent that waits for the ready file can stop us cleanly.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	out, err := os.OpenFile(os.Getenv(envOut), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sink, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		var sb strings.Builder
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				sb.WriteString(lrs.At(j).Body().Str())
				sb.WriteByte('\n')
			}
		}
		if _, err := out.WriteString(sb.String()); err != nil {
			return err
		}
		return out.Sync()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f := filetailreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*filetailreceiver.Config)
	cfg.Include = []string{filepath.Join(os.Getenv(envLogDir), "*.log")}
	cfg.StartAt = filetailreceiver.StartAtBeginning
	cfg.CheckpointDir = os.Getenv(envState)
	cfg.PollInterval = 2 * time.Millisecond
	cfg.ScanInterval = 20 * time.Millisecond
	cfg.MaxBatchRecords = batchLimit
	set := receivertest.NewNopSettings(f.Type())
	set.ID = component.NewID(f.Type())
	r, err := f.CreateLogs(context.Background(), set, cfg, sink)
	if err == nil {
		err = r.Start(context.Background(), componenttest.NewNopHost())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ready := os.Getenv(envReady); ready != "" {
		if err := os.WriteFile(ready, nil, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	<-stop
	if err := r.Shutdown(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, logDir, out, state string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envLogDir+"="+logDir, envOut+"="+out, envState+"="+state)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	return cmd
}

// TestKill9WhileAppending kills the agent with SIGKILL repeatedly while two
// files are appended, then lets a last agent finish: no line may be missing,
// and duplicates are bounded by one batch per kill.
func TestKill9WhileAppending(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	logDir, state := filepath.Join(root, "logs"), filepath.Join(root, "state")
	out := filepath.Join(root, "delivered.txt")
	require.NoError(t, os.MkdirAll(logDir, 0o750))

	const perFile = 6000
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if !assert.NoError(t, err) {
				return
			}
			defer f.Close()
			for i := 0; i < perFile; i += 20 {
				var sb strings.Builder
				for j := i; j < i+20; j++ {
					fmt.Fprintf(&sb, "%s-%06d payload payload payload\n", name, j)
				}
				if _, err := f.WriteString(sb.String()); !assert.NoError(t, err) {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	kills := 0
	for kills < 8 {
		cmd := startChild(t, logDir, out, state)
		time.Sleep(time.Duration(60+kills*17%90) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill()) // SIGKILL: no shutdown, no final checkpoint
		_ = cmd.Wait()
		kills++
	}
	wg.Wait()

	ready := filepath.Join(root, "ready")
	t.Setenv(envReady, ready)
	cmd := startChild(t, logDir, out, state)
	// The last agent must be up before it is asked to stop: without this, a fast run reaches SIGTERM
	// before the child installed its handler and it dies of the signal instead of shutting down.
	require.Eventually(t, func() bool { _, err := os.Stat(ready); return err == nil }, 60*time.Second, 10*time.Millisecond)
	deadline := time.Now().Add(60 * time.Second)
	var counts map[string]int
	for time.Now().Before(deadline) {
		counts = readDelivered(t, out)
		if len(counts) == 2*perFile {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())

	dups := 0
	for _, name := range []string{"a", "b"} {
		for i := 0; i < perFile; i++ {
			c := counts[fmt.Sprintf("%s-%06d payload payload payload", name, i)]
			require.NotZero(t, c, "line %s-%06d lost", name, i)
			dups += c - 1
		}
	}
	t.Logf("%d lines, %d kill -9, %d duplicates", 2*perFile, kills, dups)
	assert.LessOrEqual(t, dups, kills*batchLimit, "at most one unacknowledged batch is read again per kill")
}

func readDelivered(t *testing.T, path string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return counts
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[sc.Text()]++
	}
	require.NoError(t, sc.Err())
	return counts
}
