package crcframe

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func readAll(data []byte) (payloads [][]byte, r *Reader) {
	r = NewReader(bytes.NewReader(data), int64(len(data)))
	for r.Next() {
		payloads = append(payloads, bytes.Clone(r.Payload()))
	}
	return payloads, r
}

func TestRoundTrip(t *testing.T) {
	var data []byte
	want := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("x"), 5000)}
	for _, p := range want {
		data = Append(data, p)
	}
	// Begin/Seal build the same frame in place.
	start := len(data)
	data = Begin(data)
	data = append(data, "four"...)
	Seal(data[start:])
	want = append(want, []byte("four"))

	got, r := readAll(data)
	require.Equal(t, want, got)
	require.False(t, r.Torn())
	require.NoError(t, r.Err())
	require.Equal(t, int64(len(data)), r.Consumed())
}

func TestTornAndCorruptFramesStopTheReader(t *testing.T) {
	good := Append(nil, []byte("kept"))
	next := Append(nil, []byte("lost"))
	corrupt := bytes.Clone(next)
	corrupt[len(corrupt)-1] ^= 1
	huge := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint32(huge, MaxPayload+1)
	for name, tail := range map[string][]byte{
		"partial header":   next[:5],
		"partial payload":  next[:len(next)-1],
		"bad checksum":     corrupt,
		"length too large": huge,
	} {
		t.Run(name, func(t *testing.T) {
			got, r := readAll(append(bytes.Clone(good), tail...))
			require.Equal(t, [][]byte{[]byte("kept")}, got)
			require.True(t, r.Torn())
			require.Equal(t, int64(len(good)), r.Consumed(), "valid data ends after the first frame")
		})
	}
}

// FuzzReader: any bytes read as frames without a panic, and what is read
// back, framed again, is exactly the valid prefix.
func FuzzReader(f *testing.F) {
	f.Add(Append(Append(nil, []byte("a")), []byte("bc")))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		payloads, r := readAll(data)
		var again []byte
		for _, p := range payloads {
			again = Append(again, p)
		}
		require.Equal(t, int64(len(again)), r.Consumed())
		require.True(t, bytes.Equal(data[:len(again)], again), "the frames read are the valid prefix")
		require.Equal(t, r.Torn(), len(again) < len(data))
	})
}
