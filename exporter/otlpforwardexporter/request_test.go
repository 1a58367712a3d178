package otlpforwardexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
	"github.com/sluicelogs/sluice/internal/otlpwire"
)

func TestQueueEncodingRoundTrip(t *testing.T) {
	ld := sampleLogs(33)
	req, err := logsToRequest(context.Background(), ld)
	require.NoError(t, err)
	assert.Equal(t, 33, req.ItemsCount())

	enc := queueEncoding{signal: queueitem.SignalLogs}
	item, err := enc.Marshal(context.Background(), req)
	require.NoError(t, err)
	_, back, err := enc.Unmarshal(item)
	require.NoError(t, err)
	assert.Equal(t, req, back)
	assert.Equal(t, len(req.(*encodedRequest).body), back.BytesSize())

	// The traces queue refuses a logs item.
	_, _, err = queueEncoding{signal: queueitem.SignalTraces}.Unmarshal(item)
	require.EqualError(t, err, "otlp_forward queue item holds logs, expected traces")

	// Unknown versions are refused with a message naming both versions.
	item[4] = 9
	_, _, err = enc.Unmarshal(item)
	require.EqualError(t, err, "otlp_forward queue item format version 9 is not supported (this build reads version 1)")
}

func TestMergeSplitRefused(t *testing.T) {
	req, err := tracesToRequest(context.Background(), sampleTraces(2))
	require.NoError(t, err)
	_, err = req.MergeSplit(context.Background(), 10, exporterhelper.RequestSizerTypeItems, nil)
	require.ErrorIs(t, err, errMergeSplit)
}

// FuzzUnmarshalRequest feeds arbitrary queue items to the persistent-queue decoding: it must
// return an error or a request whose record count matches its body, never panic.
func FuzzUnmarshalRequest(f *testing.F) {
	logsReq, err := logsToRequest(context.Background(), sampleLogs(4))
	require.NoError(f, err)
	tracesReq, err := tracesToRequest(context.Background(), sampleTraces(3))
	require.NoError(f, err)
	logsItem, err := queueEncoding{signal: queueitem.SignalLogs}.Marshal(context.Background(), logsReq)
	require.NoError(f, err)
	tracesItem, err := queueEncoding{signal: queueitem.SignalTraces}.Marshal(context.Background(), tracesReq)
	require.NoError(f, err)

	f.Add(logsItem)
	f.Add(tracesItem)
	f.Add(logsItem[:len(logsItem)/2])
	f.Add([]byte("SLFW\x01\x01\x00"))
	f.Add([]byte("SLFW\x02\x01\x00"))
	f.Add([]byte("SLFW\x01\x01\x05\x0a\x02\x12\x00"))
	f.Add(logsReq.(*encodedRequest).body)
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, item []byte) {
		for _, sig := range []queueitem.Signal{queueitem.SignalLogs, queueitem.SignalTraces} {
			_, req, err := queueEncoding{signal: sig}.Unmarshal(item)
			if err != nil {
				continue
			}
			r := req.(*encodedRequest)
			n, err := otlpwire.CountRecords(r.body)
			require.NoError(t, err)
			require.Equal(t, n, r.ItemsCount())
			again, err := queueEncoding{signal: sig}.Marshal(context.Background(), req)
			require.NoError(t, err)
			_, back, err := queueEncoding{signal: sig}.Unmarshal(again)
			require.NoError(t, err)
			require.Equal(t, r, back)
		}
	})
}
