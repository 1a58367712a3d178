package scaleout

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/testbed/backend"
)

// repoRoot is the module root.
func repoRoot(t *testing.T) string {
	root, err := backend.ModuleRoot()
	require.NoError(t, err)
	return root
}

func freePort(t *testing.T) int {
	t.Helper()
	ports, err := backend.FreePorts(1)
	require.NoError(t, err)
	return ports[0]
}

// collector is one sluice process started from a config in configs/.
type collector struct {
	name    string
	config  string
	env     map[string]string
	health  string
	metrics string
	proc    *backend.Process
	bin     string
	dir     string
}

func newCollector(t *testing.T, bin, name, config string, env map[string]string) *collector {
	c := &collector{name: name, config: config, env: env, bin: bin, dir: t.TempDir()}
	hp, mp := freePort(t), freePort(t)
	c.env["SLUICE_HEALTH_ENDPOINT"] = "127.0.0.1:" + strconv.Itoa(hp)
	c.env["SLUICE_METRICS_PORT"] = strconv.Itoa(mp)
	c.health = "http://127.0.0.1:" + strconv.Itoa(hp) + "/"
	c.metrics = "http://127.0.0.1:" + strconv.Itoa(mp) + "/metrics"
	return c
}

// start runs the collector and waits for its health check.
func (c *collector) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(c.bin, "--config", filepath.Join(repoRoot(t), "configs", c.config))
	cmd.Dir = c.dir
	cmd.Env = os.Environ()
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, err := backend.StartProcess(c.name, cmd, filepath.Join(c.dir, c.name+".log"))
	require.NoError(t, err)
	c.proc = p
	t.Cleanup(func() { _ = p.Stop() })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	require.NoError(t, p.WaitReady(context.Background(), 60*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.health, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health %d", resp.StatusCode)
		}
		return nil
	}))
}

// kill ends the collector with SIGKILL: no shutdown, no flush.
func (c *collector) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(c.proc.Pid(), syscall.SIGKILL))
	deadline := time.Now().Add(10 * time.Second)
	for !c.proc.Exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, c.proc.Exited(), "%s survived SIGKILL", c.name)
}

// stop shuts the collector down gracefully (SIGTERM: flushes).
func (c *collector) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.proc.Stop())
}

// logContains reports whether the collector's log (all its runs) has text.
func (c *collector) logContains(t *testing.T, text string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, c.name+".log"))
	require.NoError(t, err)
	return bytes.Contains(b, []byte(text))
}
