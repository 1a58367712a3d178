package snappyframe

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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
		"chunk":        text[:chunkInput],
		"chunk+1":      text[:chunkInput+1],
		"random chunk": random[:chunkInput],
	}
}

// The framed stream is what gRPC's snappy encoding carries: the reference
// decoder (github.com/golang/snappy, which the collector's gRPC servers use)
// must read it back, and our decoder must read the reference encoder's.
func TestFramingInteroperatesWithReferenceSnappy(t *testing.T) {
	for name, body := range framingBodies() {
		t.Run(name, func(t *testing.T) {
			framed := Append(nil, body)
			back, err := io.ReadAll(snappy.NewReader(bytes.NewReader(framed)))
			require.NoError(t, err)
			assert.Equal(t, len(body), len(back))
			assert.True(t, bytes.Equal(body, back), "reference decoder read different bytes")

			var ref bytes.Buffer
			w := snappy.NewBufferedWriter(&ref)
			_, err = w.Write(body)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			got, err := AppendDecoded(nil, ref.Bytes(), len(body))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got), "read the reference encoder's stream differently")

			got, err = AppendDecoded(nil, framed, len(body))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got))
		})
	}
}

// chunkInput is the most input one chunk of the format holds.
const chunkInput = 64 << 10

// AppendDecoded refuses what is not a whole, intact stream within the limit.
func TestAppendDecodedRejects(t *testing.T) {
	body := framingBodies()["text"][:1000]
	good := Append(nil, body)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	const chunkData = 10 + 8 // the stream identifier, a chunk's header and checksum
	for name, tt := range map[string]struct {
		framed []byte
		limit  int
		err    string // "" when the stream is valid
	}{
		"no stream id":       {framed: good[10:], limit: 1000, err: "snappy framed stream: no stream identifier"},
		"over the limit":     {framed: good, limit: 999, err: "snappy framed stream: decodes to more than 999 bytes"},
		"checksum":           {framed: flip(10 + 4), limit: 1000, err: "snappy framed stream: snappy: corrupt input"},
		"corrupt data":       {framed: flip(chunkData + 1), limit: 1000, err: "snappy framed stream: snappy: corrupt input"},
		"truncated":          {framed: good[:len(good)-1], limit: 1000, err: "snappy framed stream: snappy: corrupt input"},
		"reserved chunk":     {framed: append(bytes.Clone(streamID), 0x02, 0, 0, 0), limit: 1000, err: "snappy framed stream: snappy: unsupported input"},
		"skippable chunk ok": {framed: append(bytes.Clone(good), 0xfe, 1, 0, 0, 'z'), limit: 1000},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := AppendDecoded([]byte("kept"), tt.framed, tt.limit)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, append([]byte("kept"), body...), got)
				return
			}
			require.ErrorIs(t, err, ErrFraming)
			assert.Equal(t, tt.err, err.Error())
			assert.Equal(t, []byte("kept"), got, "dst is returned unchanged on an error")
		})
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// FuzzAppendDecoded: any input is decoded or refused, never a panic, never
// more than the limit, and what it decodes, encoded again, reads back
// unchanged.
func FuzzAppendDecoded(f *testing.F) {
	for _, body := range framingBodies() {
		if len(body) < 4096 {
			f.Add(Append(nil, body))
		}
	}
	text := framingBodies()["text"]
	f.Add(Append(nil, text[:3000]))
	f.Add(append(Append(nil, text[:100]), 0xfe, 1, 0, 0, 'z'))
	f.Add(streamID)
	f.Fuzz(func(t *testing.T, src []byte) {
		const limit = 1 << 20
		got, err := AppendDecoded(nil, src, limit)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(got), limit)
		again, err := AppendDecoded(nil, Append(nil, got), limit)
		require.NoError(t, err)
		require.True(t, bytes.Equal(got, again))
	})
}
