package otlpforwardexporter

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap/zaptest"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
	"github.com/sluicelogs/sluice/internal/storagetest"
)

// startStorage starts a real storage extension of the given kind on dir;
// "state" names it, stable across restarts.
func startStorage(t testing.TB, kind, dir string) (component.ID, extension.Extension) {
	t.Helper()
	return storagetest.Start(t, kind, dir, "state")
}

func persistentConfig(endpoint string, storage component.ID) *Config {
	cfg := testConfig(endpoint)
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &storage
	q.NumConsumers = 2
	cfg.QueueConfig = configoptional.Some(q)
	cfg.RetryConfig.MaxElapsedTime = 0 // retry until shut down, as in configs/agent.yaml
	return cfg
}

func startPersistentLogs(t *testing.T, cfg *Config, storage component.ID, ext extension.Extension) exporter.Logs {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zaptest.NewLogger(t)
	set.ID = component.NewIDWithName(metadata.Type, "logs") // stable across restarts: it names the queue's file
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	host := storagetest.Host(storage, ext)
	require.NoError(t, exp.Start(context.Background(), host))
	return exp
}

func TestPersistentQueueDeliversAfterRestart(t *testing.T) {
	for _, kind := range storagetest.Kinds {
		t.Run(kind, func(t *testing.T) { testPersistentQueueDeliversAfterRestart(t, kind) })
	}
}

func testPersistentQueueDeliversAfterRestart(t *testing.T, kind string) {
	dir := t.TempDir()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close()) // the gateway is down

	// First run: everything is accepted into the queue, nothing can be sent.
	storageID, ext := startStorage(t, kind, dir)
	cfg := persistentConfig(addr, storageID)
	exp := startPersistentLogs(t, cfg, storageID, ext)
	sent := 0
	for i := 1; i <= 5; i++ {
		require.NoError(t, exp.ConsumeLogs(context.Background(), sampleLogs(10*i)))
		sent += 10 * i
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, exp.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx))

	// Second run on the same directory with the gateway up: the queue is read back and sent.
	srv := startOTLPServer(t, addr)
	storageID, ext = startStorage(t, kind, dir)
	exp = startPersistentLogs(t, cfg, storageID, ext)
	require.Eventually(t, func() bool { return srv.logRecords() >= sent }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, exp.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx))

	logs, _, _ := srv.snapshot()
	assert.Len(t, logs, 5, "each queued request is sent once")
	assert.Equal(t, sent, srv.logRecords())
	seen := map[int]bool{}
	for _, ld := range logs {
		seen[ld.LogRecordCount()] = true
	}
	assert.Equal(t, map[int]bool{10: true, 20: true, 30: true, 40: true, 50: true}, seen)
}

func TestPersistentQueueSendsWhileRunning(t *testing.T) {
	for _, kind := range storagetest.Kinds {
		t.Run(kind, func(t *testing.T) { testPersistentQueueSendsWhileRunning(t, kind) })
	}
}

func testPersistentQueueSendsWhileRunning(t *testing.T, kind string) {
	srv := startOTLPServer(t, "127.0.0.1:0")
	storageID, ext := startStorage(t, kind, t.TempDir())
	cfg := persistentConfig(srv.addr, storageID)
	traces, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	host := storagetest.Host(storageID, ext)
	require.NoError(t, traces.Start(context.Background(), host))

	td := sampleTraces(9)
	require.NoError(t, traces.ConsumeTraces(context.Background(), td))
	require.Eventually(t, func() bool {
		_, got, _ := srv.snapshot()
		return len(got) == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, traces.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))

	_, got, _ := srv.snapshot()
	assert.Equal(t, tracesJSON(t, td), tracesJSON(t, got[0]))
}

// The queue's items and bytes sizers measure a request by its records and encoded size.
func TestQueueSizersUseRecordsAndEncodedBytes(t *testing.T) {
	req, err := requestEncoder{framed: true}.logsToRequest(context.Background(), sampleLogs(10)) // testConfig compresses with snappy
	require.NoError(t, err)
	encoded := int64(req.BytesSize())

	tests := []struct {
		name     string
		sizer    exporterhelper.RequestSizerType
		capacity int64
	}{
		{name: "items", sizer: exporterhelper.RequestSizerTypeItems, capacity: 10},
		{name: "bytes", sizer: exporterhelper.RequestSizerTypeBytes, capacity: encoded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("127.0.0.1:1") // nothing listens: what is queued stays queued
			cfg.RetryConfig.MaxElapsedTime = 0
			q := exporterhelper.NewDefaultQueueConfig()
			q.Sizer = tt.sizer
			q.QueueSize = tt.capacity
			q.NumConsumers = 1
			cfg.QueueConfig = configoptional.Some(q)
			exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))

			// Exactly the capacity fits (the consumer may hold it, but it still counts) ...
			require.NoError(t, exp.ConsumeLogs(context.Background(), sampleLogs(10)))
			// ... and one more record does not.
			err = exp.ConsumeLogs(context.Background(), sampleLogs(1))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sending queue is full")
			require.NoError(t, exp.Shutdown(context.Background()))
		})
	}
}
