package scaleout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// TestAgentKafkaLargeBatches: the agent in Kafka mode (configs/agent.yaml,
// SLUICE_FORWARD=kafka) catching up on a burst of long lines without trace
// ids. One poll of file_tail hands over up to max_batch_bytes (4 MiB); lines
// without a trace id share one Kafka message, and a broker refuses messages
// over its message.max.bytes (1 MiB by default) — a batch published whole
// would be retried for ever and block the agent's queue. Every line must
// reach the topic.
func TestAgentKafkaLargeBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run with Kafka")
	}
	kafka := backend.KafkaFor(t)
	bin := backend.SluiceBinary(t)
	run := loadgen.NewRunID()
	topic := "sluice-agent-" + run
	createTopic(t, kafka.Brokers, topic, 2)

	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "app.log")
	require.NoError(t, os.WriteFile(logFile, nil, 0o644))
	agent := newCollector(t, bin, "agent", "agent.yaml", map[string]string{
		"SLUICE_FORWARD":            "kafka",
		"SLUICE_KAFKA_BROKERS":      strings.Join(kafka.Brokers, ","),
		"SLUICE_KAFKA_TOPIC":        topic,
		"SLUICE_OTLP_GRPC_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"SLUICE_OTLP_HTTP_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"SLUICE_TAIL_INCLUDE":       filepath.Join(logDir, "*.log"),
		"SLUICE_STATE_DIR":          filepath.Join(t.TempDir(), "agent"),
	})
	agent.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(agent.dir, "agent.log")); err == nil {
				t.Logf("agent log (last 3000 bytes):\n%s", b[max(0, len(b)-3000):])
			}
		}
	})
	time.Sleep(time.Second) // the file is being tailed from its end

	// 3 MiB of 2 KiB lines in one write: one poll reads them all.
	const lines = 1500
	sent := validate.NewMultiset(run)
	var burst []byte
	pad := strings.Repeat("x", 2000)
	for i := range lines {
		id := fmt.Sprintf("%s-%d", run, i)
		sent.Add(id)
		burst = fmt.Appendf(burst, "{\"level\":\"INFO\",\"message\":\"catching up %s\",%q:%q}\n", pad, validate.IDAttribute, id)
	}
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(burst)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	got := validate.NewMultiset(run)
	deadline := time.Now().Add(60 * time.Second)
	for got.Distinct() < lines && time.Now().Before(deadline) {
		got = validate.NewMultiset(run)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := validate.ReadKafkaLogs(ctx, kafka.Brokers, topic, validate.KafkaOTLPProto, 3*time.Second, got)
		cancel()
		require.NoError(t, err)
	}
	agent.stop(t)
	report := validate.Account(sent, validate.Outcome{Delivered: got})
	t.Logf("sent %d lines (%d KiB), delivered %d, lost %d", lines, len(burst)>>10, report.Delivered, report.Lost)
	assert.Zero(t, report.Lost, "lines that never reached Kafka")
}
