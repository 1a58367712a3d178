package esbulkreceiver

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// syslogNGConfig follows the verified syslog-ng 3.38 elasticsearch-http()
// setup: one worker (several reorder lines), no _type.
const syslogNGConfig = `@version: 3.38
@include "%[1]s"
source s { file("%[2]s/in/app.log" flags(no-parse) follow-freq(1)); };
destination d { elasticsearch-http(url("http://127.0.0.1:%[3]s/_bulk") index("logs-sng") type("")
  workers(1) batch-lines(100) batch-timeout(200)
  template("$(format-json message=$MESSAGE file=$FILE_NAME @timestamp=${ISODATE})")); };
log { source(s); destination(d); };
`

// syslogNG locates syslog-ng: SLUICE_SYSLOG_NG_ROOT names a directory where
// syslog-ng-core, syslog-ng-mod-http and syslog-ng-scl were unpacked with
// dpkg -x (they conflict with rsyslog in apt), else a system install.
func syslogNG(t *testing.T) (bin, scl string, env []string, args []string) {
	t.Helper()
	root := os.Getenv("SLUICE_SYSLOG_NG_ROOT")
	if root == "" {
		root = "/"
	}
	bin = filepath.Join(root, "usr/sbin/syslog-ng")
	scl = filepath.Join(root, "usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf")
	mods, _ := filepath.Glob(filepath.Join(root, "usr/lib/syslog-ng/3.*"))
	for _, p := range []string{bin, scl} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("syslog-ng with elasticsearch-http() not found (%s); unpack syslog-ng-core, syslog-ng-mod-http and syslog-ng-scl with dpkg -x and set SLUICE_SYSLOG_NG_ROOT", p)
		}
	}
	if len(mods) == 0 {
		t.Skip("syslog-ng module directory not found under " + root)
	}
	env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib/x86_64-linux-gnu")+":"+filepath.Join(root, "usr/lib/syslog-ng"))
	return bin, scl, env, []string{"--module-path=" + mods[0]}
}

// TestSyslogNGElasticsearchHTTP drives a real syslog-ng tailing a file into
// the receiver through elasticsearch-http() and accounts for every line.
func TestSyslogNGElasticsearchHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts syslog-ng")
	}
	bin, scl, env, modArgs := syslogNG(t)
	sink := new(consumertest.LogsSink)
	r, _ := startServer(t, sink, nil)
	_, port, err := net.SplitHostPort(r.addr.String())
	require.NoError(t, err)

	dir := t.TempDir()
	for _, sub := range []string{"in", "state"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	const lines = 300
	var buf bytes.Buffer
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&buf, "sng line %04d with \"quotes\" and \\ backslash\n", i)
	}
	logFile := filepath.Join(dir, "in", "app.log")
	require.NoError(t, os.WriteFile(logFile, buf.Bytes(), 0o600))
	conf := filepath.Join(dir, "sng.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(syslogNGConfig, scl, dir, port)), 0o600))

	state := filepath.Join(dir, "state")
	args := append([]string{"-F", "-e", "--no-caps"}, modArgs...)
	args = append(args, "-f", conf, "-p", filepath.Join(state, "pid"), "-R", filepath.Join(state, "persist"), "-c", filepath.Join(state, "ctl"))
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)

	ok := assert.Eventually(t, func() bool { return sink.LogRecordCount() >= lines }, 60*time.Second, 50*time.Millisecond)
	stop()
	if !ok {
		t.Fatalf("received %d of %d lines; syslog-ng output:\n%s", sink.LogRecordCount(), lines, out.String())
	}
	records, _ := allRecords(sink)
	seen := make(map[string]int, lines)
	for _, lr := range records {
		seen[lr.Body().Str()]++
		idx, _ := lr.Attributes().Get(AttrIndex)
		assert.Equal(t, "logs-sng", idx.Str())
		file, _ := lr.Attributes().Get("file")
		assert.Equal(t, logFile, file.Str())
		assert.NotZero(t, lr.Timestamp())
	}
	for i := 0; i < lines; i++ {
		assert.Equal(t, 1, seen[fmt.Sprintf("sng line %04d with \"quotes\" and \\ backslash", i)], "line %d delivered exactly once", i)
	}
}
