package parquetexporter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

const (
	killHelperEnv       = "SLUICE_PARQUET_KILL_HELPER_DIR"
	killHelperOffsetEnv = "SLUICE_PARQUET_KILL_HELPER_OFFSET"
	killHelperSignalEnv = "SLUICE_PARQUET_KILL_HELPER_SIGNAL"
)

// newTestSignalExporter returns a test exporter of signal (logs or traces).
func newTestSignalExporter(t *testing.T, cfg *Config, signal string) *parquetExporter {
	if signal == logarchive.SignalTraces {
		return newTestTracesExporter(t, cfg, nil)
	}
	return newTestExporter(t, cfg, nil)
}

// pushSignal pushes n generated records (log records or spans) with seq
// attributes from offset.
func pushSignal(e *parquetExporter, n, offset int) error {
	if e.signal == logarchive.SignalTraces {
		return e.pushTraces(context.Background(), genTraces(n, offset, "svc-a", "svc-b"))
	}
	return e.pushLogs(context.Background(), genLogs(n, offset, "svc-a", "svc-b"))
}

// killConfig is shared by the helper process and the test: small files so
// publishing runs while the helper is killed.
func killConfig(t *testing.T, dir string) *Config {
	cfg := testConfig(t)
	cfg.Storage.Local.Path = filepath.Join(dir, "archive")
	cfg.Staging.Directory = filepath.Join(dir, "staging")
	cfg.Roll.MaxRows = 300
	cfg.UploadRetry.InitialInterval = 10 * time.Millisecond
	cfg.UploadRetry.MaxInterval = 10 * time.Millisecond
	return cfg
}

// TestKill9Helper is the process that gets killed; it only runs when
// started by TestKill9MidStream.
func TestKill9Helper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9MidStream")
	}
	offset, err := strconv.Atoi(os.Getenv(killHelperOffsetEnv))
	require.NoError(t, err)
	e := newTestSignalExporter(t, killConfig(t, dir), os.Getenv(killHelperSignalEnv))
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	out := bufio.NewWriter(os.Stdout)
	const batch = 50
	for b := 0; b < 4000; b++ {
		if err := pushSignal(e, batch, offset+b*batch); err != nil {
			fmt.Fprintf(out, "ERR %v\n", err)
			_ = out.Flush()
			continue
		}
		// Acknowledged: the push returned nil.
		fmt.Fprintf(out, "ACK %d %d\n", offset+b*batch, batch)
		_ = out.Flush()
	}
	_ = e.shutdown(context.Background())
}

func TestKill9MidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	for _, signal := range []string{logarchive.SignalLogs, logarchive.SignalTraces} {
		t.Run(signal, func(t *testing.T) { testKill9MidStream(t, signal) })
	}
}

func testKill9MidStream(t *testing.T, signal string) {
	dir := t.TempDir()
	// The killed helper cannot remove its own t.TempDir directories: give
	// it a temporary root that this test removes.
	helperTmp := t.TempDir()
	acked := map[int64]bool{}
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Helper$", "-test.count=1")
		// Each round restarts on the previous round's staging (recovery runs
		// while new data arrives) with its own record ids.
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir, killHelperOffsetEnv+"="+strconv.Itoa(round*1_000_000), killHelperSignalEnv+"="+signal, "TMPDIR="+helperTmp)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		acks := 0
		killAt := 15 + round*10
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ACK" {
				from, _ := strconv.ParseInt(f[1], 10, 64)
				n, _ := strconv.ParseInt(f[2], 10, 64)
				for i := from; i < from+n; i++ {
					acked[i] = true
				}
				acks++
				if acks == killAt {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					break
				}
			}
		}
		_ = cmd.Wait()
		require.Equal(t, killAt, acks, "helper ended before it was killed")
	}
	// Restart in-process: recovery publishes whatever the killed process staged.
	e := newTestSignalExporter(t, killConfig(t, dir), signal)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.shutdown(context.Background()))

	counts := map[int64]int{}
	for _, f := range archiveFiles(t, filepath.Join(dir, "archive")) {
		for _, row := range readRowsGo(t, f) {
			var r struct {
				Attributes map[string]string `json:"attributes"`
			}
			require.NoError(t, json.Unmarshal([]byte(row), &r))
			seq, err := strconv.ParseInt(r.Attributes["seq"], 10, 64)
			require.NoError(t, err)
			counts[seq]++
		}
	}
	for seq, n := range counts {
		require.Equal(t, 1, n, "record %d is in %d rows", seq, n)
	}
	for seq := range acked {
		require.Equal(t, 1, counts[seq], "acknowledged record %d lost", seq)
	}
	t.Logf("acknowledged %d records, archive holds %d", len(acked), len(counts))
}
