package otlpforwardexporter

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/internal/snappyframe"
)

func TestQueueEncodingRoundTrip(t *testing.T) {
	for _, framed := range []bool{false, true} {
		t.Run(fmt.Sprintf("framed=%v", framed), func(t *testing.T) {
			ld := sampleLogs(33)
			req, err := requestEncoder{framed: framed}.logsToRequest(context.Background(), ld)
			require.NoError(t, err)
			assert.Equal(t, 33, req.ItemsCount())
			pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
			require.NoError(t, err)
			assert.Equal(t, len(pb), req.BytesSize(), "BytesSize is the protobuf size, compressed or not")

			enc := queueEncoding{signal: queueitem.SignalLogs, framed: framed}
			item, err := enc.Marshal(context.Background(), req)
			require.NoError(t, err)
			if framed {
				assert.Same(t, &req.(*encodedRequest).item[0], &item[0], "the framed item is built with the request, not copied")
			}
			_, back, err := enc.Unmarshal(item)
			require.NoError(t, err)
			assert.Equal(t, withoutItem(req.(*encodedRequest)), withoutItem(back.(*encodedRequest)))

			// Either exporter reads the other's items (a changed compression setting
			// never strands a queue), into its own form.
			_, other, err := queueEncoding{signal: queueitem.SignalLogs, framed: !framed}.Unmarshal(item)
			require.NoError(t, err)
			assert.Equal(t, !framed, other.(*encodedRequest).framed)
			assert.Equal(t, 33, other.ItemsCount())
			assert.Equal(t, len(pb), other.BytesSize())
			pbBack := other.(*encodedRequest).body
			if !framed { // the other exporter holds it framed
				pbBack, err = snappyframe.AppendDecoded(nil, pbBack, len(pb))
				require.NoError(t, err)
			}
			got := plogotlp.NewExportRequest()
			require.NoError(t, got.UnmarshalProto(pbBack))
			assert.Equal(t, logsJSON(t, ld), logsJSON(t, got.Logs()))

			// The traces queue refuses a logs item.
			err = unreadable(t, queueEncoding{signal: queueitem.SignalTraces, framed: framed}, item)
			require.EqualError(t, err, "otlp_forward queue item holds logs, expected traces")

			// Unknown versions are refused with a message naming the known ones.
			item[4] = 9
			err = unreadable(t, enc, item)
			require.EqualError(t, err, "otlp_forward queue item format version 9 is not supported (this build reads versions 1 and 2)")
		})
	}
}

func TestMergeSplitRefused(t *testing.T) {
	req, err := requestEncoder{}.tracesToRequest(context.Background(), sampleTraces(2))
	require.NoError(t, err)
	_, err = req.MergeSplit(context.Background(), 10, exporterhelper.RequestSizerTypeItems, nil)
	require.ErrorIs(t, err, errMergeSplit)
}

// FuzzUnmarshalRequest feeds arbitrary queue items to the persistent-queue decoding of
// both forms: it must return an error or a request that survives another round trip, never
// panic; a request in protobuf form must hold as many records as it says.
func FuzzUnmarshalRequest(f *testing.F) {
	for _, framed := range []bool{false, true} {
		enc := requestEncoder{framed: framed}
		logsReq, err := enc.logsToRequest(context.Background(), sampleLogs(4))
		require.NoError(f, err)
		tracesReq, err := enc.tracesToRequest(context.Background(), sampleTraces(3))
		require.NoError(f, err)
		logsItem, err := queueEncoding{signal: queueitem.SignalLogs, framed: framed}.Marshal(context.Background(), logsReq)
		require.NoError(f, err)
		tracesItem, err := queueEncoding{signal: queueitem.SignalTraces, framed: framed}.Marshal(context.Background(), tracesReq)
		require.NoError(f, err)
		f.Add(logsItem)
		f.Add(tracesItem)
		f.Add(logsItem[:len(logsItem)/2])
		f.Add(logsReq.(*encodedRequest).body)
	}
	f.Add([]byte("SLFW\x01\x01\x00"))
	f.Add([]byte("SLFW\x02\x01\x00"))
	f.Add([]byte("SLFW\x02\x01\x00\x00\xff\x06\x00\x00sNaPpY"))
	f.Add([]byte("SLFW\x01\x01\x05\x0a\x02\x12\x00"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, item []byte) {
		for _, sig := range []queueitem.Signal{queueitem.SignalLogs, queueitem.SignalTraces} {
			for _, framed := range []bool{false, true} {
				enc := queueEncoding{signal: sig, framed: framed}
				_, req, err := enc.Unmarshal(item)
				require.NoError(t, err, "Unmarshal never fails: an unreadable item is refused by push")
				r := req.(*encodedRequest)
				if r.unreadable != nil {
					again, err := enc.Marshal(context.Background(), req)
					require.NoError(t, err)
					require.Equal(t, item, again, "an unreadable item is stored again unchanged")
					continue
				}
				require.Equal(t, framed, r.framed)
				if !framed {
					n, err := otlpwire.CountRecords(r.body)
					require.NoError(t, err)
					require.Equal(t, n, r.ItemsCount())
					require.Equal(t, len(r.body), r.BytesSize())
				}
				again, err := enc.Marshal(context.Background(), req)
				require.NoError(t, err)
				_, back, err := enc.Unmarshal(again)
				require.NoError(t, err)
				require.Equal(t, withoutItem(r), withoutItem(back.(*encodedRequest)))
			}
		}
	})
}

// unreadable unmarshals item and returns why the request read back cannot be sent.
func unreadable(t *testing.T, enc queueEncoding, item []byte) error {
	t.Helper()
	_, req, err := enc.Unmarshal(item)
	require.NoError(t, err)
	return req.(*encodedRequest).unreadable
}

// withoutItem is r without the queue item the encoder builds with a framed
// request (a request read back from the queue has none of its own).
func withoutItem(r *encodedRequest) encodedRequest {
	c := *r
	c.item = nil
	return c
}
