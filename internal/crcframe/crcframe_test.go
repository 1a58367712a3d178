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

// CheckAt agrees with the Reader on where whole, valid frames are.
func TestCheckAt(t *testing.T) {
	first := Append(nil, []byte("one"))
	second := Append(nil, bytes.Repeat([]byte("x"), 100))
	data := append(bytes.Clone(first), second...)
	buf := make([]byte, HeaderSize+3) // smaller than a payload: read in pieces
	r := bytes.NewReader(data)
	size := int64(len(data))

	n, ok, err := CheckAt(r, 0, size, buf)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(3), n)
	n, ok, err = CheckAt(r, int64(len(first)), size, buf)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(100), n)

	for name, c := range map[string]struct{ off, size int64 }{
		"inside a frame":        {1, size},
		"cut short":             {int64(len(first)), size - 1},
		"header past the end":   {size - 4, size},
		"at the end":            {size, size},
		"negative offset":       {-1, size},
		"length past the limit": {0, 10},
	} {
		t.Run(name, func(t *testing.T) {
			_, ok, err := CheckAt(r, c.off, c.size, buf)
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
	bad := bytes.Clone(data)
	bad[len(first)+HeaderSize+50] ^= 1
	_, ok, err = CheckAt(bytes.NewReader(bad), int64(len(first)), size, buf)
	require.NoError(t, err)
	require.False(t, ok, "a flipped payload byte fails the CRC")
}
