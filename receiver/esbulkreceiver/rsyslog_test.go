package esbulkreceiver

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// rsyslogConfig follows the verified setup for rsyslog 8.2302 with
// omelasticsearch (imfile input, jsonf template, bulk mode, esVersion 8).
const rsyslogConfig = `global(workDirectory="%[1]s/work")
module(load="imfile")
module(load="omelasticsearch")
template(name="doc" type="list" option.jsonf="on") {
  property(outname="message" name="msg" format="jsonf")
  property(outname="@timestamp" name="timegenerated" dateFormat="rfc3339" format="jsonf")
}
input(type="imfile" File="%[1]s/in/*.log" Tag="app" addMetadata="on" ruleset="out" persistStateAfterSubmission="on")
ruleset(name="out") {
  action(type="omelasticsearch" server="127.0.0.1" serverport="%[2]s"
    searchIndex="logs-rsyslog" template="doc" bulkmode="on" esVersion.major="8"
    action.resumeRetryCount="-1" errorFile="%[1]s/work/es-errors.json")
}
`

// TestRsyslogOmelasticsearch drives a real rsyslogd (Debian packages rsyslog
// and rsyslog-elasticsearch) tailing a file into the receiver, and accounts
// for every line. Skipped when rsyslogd or its omelasticsearch module is missing.
func TestRsyslogOmelasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rsyslogd")
	}
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		rsyslogd = "/usr/sbin/rsyslogd"
	}
	if _, err := os.Stat(rsyslogd); err != nil {
		t.Skip("rsyslogd not installed (apt-get install rsyslog rsyslog-elasticsearch)")
	}
	if mods, _ := filepath.Glob("/usr/lib/*/rsyslog/omelasticsearch.so"); len(mods) == 0 {
		t.Skip("omelasticsearch module not installed (apt-get install rsyslog-elasticsearch)")
	}

	sink := new(consumertest.LogsSink)
	r, _ := startServer(t, sink, nil)
	_, port, err := net.SplitHostPort(r.addr.String())
	require.NoError(t, err)

	dir := t.TempDir()
	for _, sub := range []string{"work", "in"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(rsyslogConfig, dir, port)), 0o600))

	const lines = 300
	var buf bytes.Buffer
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&buf, "line %04d of the rsyslog test \"quoted\" \\ done\n", i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in", "app.log"), buf.Bytes(), 0o600))

	var out bytes.Buffer
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-iNONE")
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
		t.Fatalf("received %d of %d lines; rsyslogd output:\n%s", sink.LogRecordCount(), lines, out.String())
	}
	records, _ := allRecords(sink)
	seen := make(map[string]int, lines)
	for _, lr := range records {
		seen[lr.Body().Str()]++
		idx, _ := lr.Attributes().Get(AttrIndex)
		assert.Equal(t, "logs-rsyslog", idx.Str())
		assert.NotZero(t, lr.Timestamp(), "@timestamp from rsyslog parsed")
	}
	for i := 0; i < lines; i++ {
		msg := fmt.Sprintf("line %04d of the rsyslog test \"quoted\" \\ done", i)
		assert.Equal(t, 1, seen[msg], "line %d delivered exactly once", i)
	}
	errs, _ := os.ReadFile(filepath.Join(dir, "work", "es-errors.json"))
	assert.Empty(t, strings.TrimSpace(string(errs)), "rsyslog recorded no rejected records")
}
