package kafkagroupreceiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

func newControlledCluster(t *testing.T, partitions int32) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, testTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// failCommits makes the broker refuse the next n offset commits with a
// partition error.
func failCommits(c *kfake.Cluster, n int32) *atomic.Int32 {
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Load() >= n {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		failed.Add(1)
		req := kreq.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.RequestTimedOut.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &failed
}

// A commit the broker refuses is tried again at the next commit interval,
// even when nothing more is read: the finished position must not wait for
// new messages (or be missing from the final commit when the member leaves).
func TestFailedCommitIsRetriedWithoutNewMessages(t *testing.T) {
	c, brokers := newControlledCluster(t, 1)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	failed := failCommits(c, 1)
	sink := new(consumertest.LogsSink)
	cfg := testConfig(brokers)
	start(t, cfg, sink, nil)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 5 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return failed.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 5 },
		5*time.Second, 20*time.Millisecond, "the refused commit was never tried again")
}

// A batch refused permanently counts every message it held as dead-lettered,
// not one per batch.
func TestPermanentRefusalCountsEveryMessage(t *testing.T) {
	_, brokers := newControlledCluster(t, 1)
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, logsMessage(t, i))
	}
	produce(t, brokers, recs...)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &refusingLogs{permanent: 1000}
	cfg := testConfig(brokers)
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	require.Eventually(t, func() bool { return committed(t, brokers, cfg.GroupID) == 6 }, 10*time.Second, 20*time.Millisecond)
	m, err := tel.GetMetric("otelcol_kafka_group_messages_dead_lettered")
	require.NoError(t, err)
	sum := m.Data.(metricdata.Sum[int64])
	var rejected int64
	for _, dp := range sum.DataPoints {
		if v, _ := dp.Attributes.Value(attribute.Key("reason")); v.AsString() == "rejected" {
			rejected += dp.Value
		}
	}
	assert.Equal(t, int64(6), rejected)
}

// Shutting down when the brokers are gone ends within the shutdown context's
// deadline.
func TestShutdownWithBrokersGoneIsBounded(t *testing.T) {
	c, brokers := newControlledCluster(t, 1)
	produce(t, brokers, logsMessage(t, 1))
	sink := new(consumertest.LogsSink)
	cfg := testConfig(brokers)
	set := receivertest.NewNopSettings(metadata.Type)
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 10*time.Second, 10*time.Millisecond)
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	began := time.Now()
	require.NoError(t, r.Shutdown(ctx))
	t.Logf("shutdown took %v", time.Since(began))
	assert.Less(t, time.Since(began), shutdownBudget+2*time.Second)
}

var shutdownBudget = 3 * time.Second

// Shutting down while the pipeline refuses a batch (memory_limiter) abandons
// the batch for the next owner: it is not a held batch that failed.
func TestShutdownDuringRetriesIsNotAFailedBatch(t *testing.T) {
	_, brokers := newControlledCluster(t, 1)
	produce(t, brokers, logsMessage(t, 1))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &refusingLogs{retryable: 1 << 30}
	cfg := testConfig(brokers)
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool {
		_, err := tel.GetMetric("otelcol_kafka_group_consume_retries")
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	_, err = tel.GetMetric("otelcol_kafka_group_batches_failed")
	assert.Error(t, err, "a batch abandoned at shutdown was counted as failed")
}
