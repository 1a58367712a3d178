package reader

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// growing is a file that is appended to while it is read.
type growing struct{ data []byte }

func (g *growing) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(g.data).ReadAt(p, off)
}

func drain(t *testing.T, r *Reader) []Line {
	t.Helper()
	var out []Line
	for {
		l, ok, err := r.Next()
		require.NoError(t, err)
		if !ok {
			return out
		}
		l.Data = append([]byte(nil), l.Data...)
		out = append(out, l)
	}
}

func TestLinesAndOffsets(t *testing.T) {
	g := &growing{data: []byte("one\ntwo\r\nthr")}
	r := New(g, 0, 100)
	lines := drain(t, r)
	require.Len(t, lines, 2)
	assert.Equal(t, Line{Data: []byte("one"), Start: 0, End: 4}, lines[0])
	assert.Equal(t, Line{Data: []byte("two"), Start: 4, End: 9}, lines[1])
	assert.Equal(t, int64(9), r.Offset(), "incomplete line is not consumed")
	assert.Equal(t, 3, r.Buffered())

	g.data = append(g.data, "ee\n"...)
	lines = drain(t, r)
	require.Len(t, lines, 1)
	assert.Equal(t, Line{Data: []byte("three"), Start: 9, End: 15}, lines[0])
}

func TestStartsAtOffset(t *testing.T) {
	g := &growing{data: []byte("skip\nkeep\n")}
	lines := drain(t, New(g, 5, 100))
	require.Len(t, lines, 1)
	assert.Equal(t, "keep", string(lines[0].Data))
	assert.Equal(t, int64(10), lines[0].End)
}

func TestLongLineTruncated(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	g := &growing{data: []byte("a\n" + long)}
	r := New(g, 0, 1000)
	lines := drain(t, r)
	require.Len(t, lines, 1, "the long line has no newline yet")
	assert.LessOrEqual(t, r.Buffered(), 1000, "memory for a long line is bounded")

	g.data = append(g.data, "yyy\nb\n"...)
	lines = drain(t, r)
	require.Len(t, lines, 2)
	assert.True(t, lines[0].Truncated)
	assert.Equal(t, strings.Repeat("x", 1000), string(lines[0].Data))
	assert.Equal(t, int64(2+100_000+4), lines[0].End)
	assert.Equal(t, Line{Data: []byte("b"), Start: lines[0].End, End: lines[0].End + 2}, lines[1])
}

func TestLongLineWithNewlineInBuffer(t *testing.T) {
	g := &growing{data: []byte(strings.Repeat("z", 50) + "\nok\n")}
	lines := drain(t, New(g, 0, 10))
	require.Len(t, lines, 2)
	assert.True(t, lines[0].Truncated)
	assert.Equal(t, strings.Repeat("z", 10), string(lines[0].Data))
	assert.Equal(t, "ok", string(lines[1].Data))
	assert.False(t, lines[1].Truncated)
}

func TestResetAndRemainder(t *testing.T) {
	g := &growing{data: []byte("aaaa\nbbbb\ntail")}
	r := New(g, 0, 100)
	require.Len(t, drain(t, r), 2)
	rem, ok := r.Remainder()
	require.True(t, ok)
	assert.Equal(t, Line{Data: []byte("tail"), Start: 10, End: 14}, rem)
	_, ok = r.Remainder()
	assert.False(t, ok)

	g.data = []byte("new\n") // truncated and rewritten
	r.Reset(0)
	lines := drain(t, r)
	require.Len(t, lines, 1)
	assert.Equal(t, "new", string(lines[0].Data))
}

// FuzzReader checks that, whatever the bytes and read sizes, lines and their
// offsets tile the input exactly and kept bytes never exceed the maximum.
func FuzzReader(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint16(2), uint16(3))
	f.Add([]byte(strings.Repeat("long", 30)+"\nx\r\n"), uint16(10), uint16(7))
	f.Add([]byte{0, 0xff, '\n', 0xfe, '\r', '\n'}, uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, maxLine, step uint16) {
		if maxLine == 0 {
			maxLine = 1
		}
		if step == 0 {
			step = 1
		}
		g := &growing{}
		r := New(g, 0, int(maxLine))
		var next int64
		check := func(l Line) {
			if next == 0 && l.Start > 0 && len(bytes.Trim(data[:l.Start], "\x00")) == 0 {
				next = l.Start // a NUL hole at the start of the file is skipped
			}
			if l.Start != next || l.End <= l.Start || l.End > int64(len(data)) {
				t.Fatalf("line %+v does not follow offset %d (len %d)", l, next, len(data))
			}
			if len(l.Data) > int(maxLine) {
				t.Fatalf("line of %d bytes exceeds max %d", len(l.Data), maxLine)
			}
			raw := data[l.Start:l.End]
			want := bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
			if !l.Truncated && !bytes.Equal(want, l.Data) {
				t.Fatalf("line %q != file bytes %q", l.Data, want)
			}
			if l.Truncated && !bytes.HasPrefix(want, l.Data) {
				t.Fatalf("truncated line %q is not a prefix of %q", l.Data, want)
			}
			next = l.End
		}
		for pos := 0; pos < len(data); pos += int(step) {
			g.data = data[:min(len(data), pos+int(step))]
			for {
				l, ok, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				check(l)
			}
		}
		if rem, ok := r.Remainder(); ok {
			check(rem)
		}
		if next == 0 && len(bytes.Trim(data, "\x00")) == 0 {
			next = int64(len(data)) // a file of NULs only is a hole
		}
		if next != int64(len(data)) {
			t.Fatalf("lines cover %d of %d bytes", next, len(data))
		}
	})
}
