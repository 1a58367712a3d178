package timerslack

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a process that applies the slack
// (see TestMain), as cmd/sluice does.
const helperEnv = "TIMERSLACK_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		helper()
		return
	}
	goleak.VerifyTestMain(m)
}

// helper applies the slack from the environment, starts threads, and prints
// every thread's slack, one per line.
func helper() {
	if err := FromEnvironment(); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(3)
	}
	// More threads, created after the slack was applied.
	done := make(chan struct{})
	for range 4 {
		go func() {
			runtime.LockOSThread()
			<-done
		}()
	}
	time.Sleep(50 * time.Millisecond)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		os.Exit(4)
	}
	for _, task := range tasks {
		// The file is only offered under /proc/<tid>, not /proc/self/task/<tid>.
		b, err := os.ReadFile(filepath.Join("/proc", task.Name(), "timerslack_ns"))
		if err != nil {
			os.Stdout.WriteString("unreadable: " + err.Error() + "\n")
			continue
		}
		os.Stdout.WriteString(strings.TrimSpace(string(b)) + "\n")
	}
	close(done)
	if os.Getenv(reexecMarker) != "" {
		os.Stdout.WriteString("marker left in the environment\n")
	}
}

func runHelper(t *testing.T, setting string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", EnvVar+"="+setting)
	out, err := cmd.Output()
	require.NoError(t, err, "helper output: %s", out)
	return strings.Fields(string(out))
}

func TestEveryThreadGetsTheSlack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("timer slack is a Linux setting")
	}
	lines := runHelper(t, "2ms")
	require.Greater(t, len(lines), 3, "the runtime's threads and the helper's")
	for _, l := range lines {
		ns, err := strconv.ParseInt(l, 10, 64)
		require.NoError(t, err, "thread slack %q (reading another thread's slack needs CAP_SYS_NICE)", l)
		require.Equal(t, int64(2*time.Millisecond), ns, "every thread, the runtime's monitor included")
	}
}

func TestOffLeavesTheDefault(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("timer slack is a Linux setting")
	}
	def, err := Current()
	require.NoError(t, err)
	require.Less(t, def, Default, "the test needs a process started with less slack than the default")
	for _, l := range runHelper(t, "off") {
		require.Equal(t, strconv.FormatInt(int64(def), 10), l)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", Default}, {"0", 0}, {"off", 0}, {"false", 0}, {"500us", 500 * time.Microsecond}, {"10ms", Max},
	} {
		got, err := Parse(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"1", "fast", "-1ms", "11ms", "1h"} {
		_, err := Parse(bad)
		require.True(t, errors.Is(err, ErrInvalid), "%q: %v", bad, err)
		require.ErrorContains(t, err, `SLUICE_TIMER_SLACK "`+bad+`": want a duration from 0 to 10ms (e.g. 1ms), or off`)
	}
}
