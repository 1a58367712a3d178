package otlpforwardexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
	"github.com/sluicelogs/sluice/internal/storagetest"
)

// corruptingStorage wraps a storage extension: every queue item read back has
// its format version byte replaced, as after a downgrade or a corruption the
// storage's own checksum did not catch.
type corruptingStorage struct {
	extension.Extension
}

func (s corruptingStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := s.Extension.(storage.Extension).GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	return corruptingClient{c}, nil
}

type corruptingClient struct{ storage.Client }

func (c corruptingClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if err := c.Client.Batch(ctx, ops...); err != nil {
		return err
	}
	for _, op := range ops {
		if op.Type == storage.Get && op.Key != "qmv0" && len(op.Value) > 4 {
			op.Value[4] = 9 // format version 9
		}
	}
	return nil
}

// A persistent-queue item that cannot be read back must not vanish silently
// (exporterhelper logs it at debug level and counts nothing): it is logged as
// an error with its reason and counted as failed with its records.
func TestUnreadableQueueItemIsLoggedAndCountedAsFailed(t *testing.T) {
	for _, kind := range storagetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := startOTLPServer(t, "127.0.0.1:0")
			id, ext := startStorage(t, kind, t.TempDir())
			cfg := persistentConfig(srv.addr, id)

			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			core, logs := observer.New(zapcore.InfoLevel)
			set := exportertest.NewNopSettings(metadata.Type)
			set.TelemetrySettings = tel.NewTelemetrySettings()
			set.Logger = zap.New(core)
			set.ID = component.NewIDWithName(metadata.Type, "logs")
			exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
			require.NoError(t, err)
			host := storagetest.Host(id, corruptingStorage{ext})
			require.NoError(t, exp.Start(context.Background(), host))
			t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })

			require.NoError(t, exp.ConsumeLogs(context.Background(), sampleLogs(7)))
			require.Eventually(t, func() bool {
				return logs.FilterMessageSnippet("unreadable").FilterLevelExact(zapcore.ErrorLevel).Len() == 1
			}, 10*time.Second, 10*time.Millisecond, "no error log for the unreadable item; got %v", logs.All())
			entry := logs.FilterMessageSnippet("unreadable").All()[0]
			assert.Contains(t, fmt.Sprint(entry.Context), "format version 9 is not supported")

			require.EventuallyWithT(t, func(c *assert.CollectT) {
				m, err := tel.GetMetric("otelcol_exporter_send_failed_log_records")
				if !assert.NoError(c, err) {
					return
				}
				sum, ok := m.Data.(metricdata.Sum[int64])
				if assert.True(c, ok) && assert.Len(c, sum.DataPoints, 1) {
					assert.Equal(c, int64(7), sum.DataPoints[0].Value)
				}
			}, 10*time.Second, 10*time.Millisecond)
			_, _, calls := srv.snapshot()
			assert.Zero(t, calls)
		})
	}
}

// An unreadable item read back is a request that push refuses permanently
// without sending it; it keeps the records its header gives, for the
// queue's sizers and the failed counter, and marshals back to the same item
// (the persistent queue re-enqueues items it finds in flight at start).
func TestUnreadableQueueItemRequest(t *testing.T) {
	for _, framed := range []bool{false, true} {
		t.Run(fmt.Sprintf("framed=%v", framed), func(t *testing.T) {
			req, err := requestEncoder{framed: framed}.logsToRequest(context.Background(), sampleLogs(5))
			require.NoError(t, err)
			enc := queueEncoding{signal: queueitem.SignalLogs, framed: framed}
			item, err := enc.Marshal(context.Background(), req)
			require.NoError(t, err)
			item = append([]byte(nil), item...)
			item[len(item)-1] ^= 0xff // a corrupt body
			item[4] = 9

			_, back, err := enc.Unmarshal(item)
			require.NoError(t, err)
			assert.Equal(t, 5, back.ItemsCount())
			again, err := enc.Marshal(context.Background(), back)
			require.NoError(t, err)
			assert.Equal(t, item, again)

			f, err := newForwarder(testConfig("127.0.0.1:1"), exportertest.NewNopSettings(metadata.Type))
			require.NoError(t, err)
			f.framed = framed
			err = f.push(context.Background(), back)
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err))
			assert.Contains(t, err.Error(), "format version 9 is not supported")
		})
	}
}
