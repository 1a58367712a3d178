package queueitem

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// framingBodies: empty, tiny, compressible, incompressible, and sizes around
// the 64 KiB chunk limit.
func framingBodies() map[string][]byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	text := []byte(strings.Repeat(`{"level":"info","msg":"GET /api/v1/orders 200","user":"[EMAIL]"}`, 5000))
	return map[string][]byte{
		"empty":        {},
		"tiny":         []byte("x"),
		"text":         text,
		"random":       random,
		"chunk":        text[:maxChunkInput],
		"chunk+1":      text[:maxChunkInput+1],
		"random chunk": random[:maxChunkInput],
	}
}

// The framed stream is what gRPC's snappy encoding carries: the reference
// decoder (github.com/golang/snappy, which the collector's gRPC servers use)
// must read it back, and our decoder must read the reference encoder's.
func TestFramingInteroperatesWithReferenceSnappy(t *testing.T) {
	for name, body := range framingBodies() {
		t.Run(name, func(t *testing.T) {
			framed := AppendFramed(nil, body)
			assert.LessOrEqual(t, len(framed), FramedLen(len(body)))
			back, err := io.ReadAll(snappy.NewReader(bytes.NewReader(framed)))
			require.NoError(t, err)
			assert.Equal(t, len(body), len(back))
			assert.True(t, bytes.Equal(body, back), "reference decoder read different bytes")

			var ref bytes.Buffer
			w := snappy.NewBufferedWriter(&ref)
			_, err = w.Write(body)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			got, err := AppendUnframed(nil, ref.Bytes(), len(body))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got), "read the reference encoder's stream differently")

			got, err = AppendUnframed(nil, framed, len(body))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got))
		})
	}
}

func TestUnframeRejects(t *testing.T) {
	body := framingBodies()["text"][:1000]
	good := AppendFramed(nil, body)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for name, tt := range map[string]struct {
		framed []byte
		limit  int
		err    string
	}{
		"no stream id":     {framed: good[len(streamID):], limit: 1000, err: "snappy framed stream: no stream identifier"},
		"checksum":         {framed: flip(len(streamID) + 4), limit: 1000, err: "snappy framed stream: checksum mismatch"},
		"truncated":        {framed: good[:len(good)-1], limit: 1000, err: "snappy framed stream: chunk of"},
		"over the limit":   {framed: good, limit: 999, err: "snappy framed stream: decodes to more than 999 bytes"},
		"reserved chunk":   {framed: append(bytes.Clone(streamID), 0x02, 0, 0, 0), limit: 1000, err: "snappy framed stream: reserved unskippable chunk type 0x2"},
		"half a header":    {framed: append(bytes.Clone(streamID), 0x00, 0), limit: 1000, err: "snappy framed stream: truncated chunk header"},
		"no checksum":      {framed: append(bytes.Clone(streamID), 0x01, 2, 0, 0, 'a', 'b'), limit: 1000, err: "snappy framed stream: chunk without checksum"},
		"corrupt snappy":   {framed: flip(len(streamID) + chunkHeaderSize + 1), limit: 1000, err: "snappy framed stream: "},
		"skippable is ok?": {framed: append(bytes.Clone(good), 0xfe, 1, 0, 0, 'z'), limit: 1000, err: ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := AppendUnframed(nil, tt.framed, tt.limit)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, body, got)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

// A version 2 item decodes to the same body and count as a version 1 item,
// and DecodeFramed hands out the stored stream without decoding it.
func TestFramedItems(t *testing.T) {
	body, n := logsBody(t, 5, 2)
	framed := AppendFramed(nil, body)
	item, err := EncodeFramed(SignalLogs, n, len(body), framed)
	require.NoError(t, err)

	got, gotBody, err := Decode(item, SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, body, gotBody)

	got, bodyLen, gotFramed, err := DecodeFramed(item, SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, len(body), bodyLen)
	assert.Equal(t, framed, gotFramed)

	// A version 1 item read for a snappy connection is framed on the way out.
	got, bodyLen, gotFramed, err = DecodeFramed(mustEncode(t, SignalLogs, n, body), SignalLogs)
	require.NoError(t, err)
	assert.Equal(t, n, got)
	assert.Equal(t, len(body), bodyLen)
	back, err := AppendUnframed(nil, gotFramed, len(body))
	require.NoError(t, err)
	assert.Equal(t, body, back)

	// The checks Decode makes on a version 2 body.
	_, _, err = Decode(item[:len(item)-2], SignalLogs)
	require.Error(t, err)
	wrongLen, err := EncodeFramed(SignalLogs, n, len(body)+1, framed)
	require.NoError(t, err)
	_, _, err = Decode(wrongLen, SignalLogs)
	require.EqualError(t, err, fmt.Sprintf("otlp_forward queue item body: %d bytes, the header says %d", len(body), len(body)+1))
	_, _, _, err = DecodeFramed(append(item[:len(item)-len(framed)], body...), SignalLogs)
	require.EqualError(t, err, "otlp_forward queue item body: snappy framed stream: no stream identifier")
}
