package snappyframe

import (
	"bytes"
	"encoding/binary"
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
			framed := Append(nil, body)
			assert.LessOrEqual(t, len(framed), MaxLen(len(body)))
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

func TestUnframeRejects(t *testing.T) {
	body := framingBodies()["text"][:1000]
	good := Append(nil, body)
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
		"oversized chunk":  {framed: oversizedChunk(), limit: 1 << 20, err: "snappy framed stream: a chunk holds 65537 bytes, over 64 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := AppendDecoded(nil, tt.framed, tt.limit)
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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// FuzzAppendDecoded: any input is decoded or refused, never a panic, never
// more than the limit; what it accepts, the reference decoder
// (github.com/golang/snappy, which gRPC servers use) reads the same, and
// encoding it again reads back unchanged.
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
		if len(src) > 0 {
			ref, refErr := io.ReadAll(snappy.NewReader(bytes.NewReader(src)))
			require.NoError(t, refErr, "accepted what the reference decoder refuses")
			require.True(t, bytes.Equal(ref, got), "decoded differently from the reference")
		}
		again, err := AppendDecoded(nil, Append(nil, got), limit)
		require.NoError(t, err)
		require.True(t, bytes.Equal(got, again))
	})
}

// oversizedChunk is a stream whose one stored chunk holds more than the
// format's 64 KiB.
func oversizedChunk() []byte {
	data := make([]byte, maxChunkInput+1)
	length := 4 + len(data)
	b := append(bytes.Clone(streamID), chunkUncompressed, byte(length), byte(length>>8), byte(length>>16))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(data))
	return append(b, data...)
}
