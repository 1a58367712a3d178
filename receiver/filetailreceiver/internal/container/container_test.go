package container

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseCRI(t *testing.T) {
	e, ok := ParseCRI([]byte("2016-10-06T00:17:09.669794202Z stdout P log content 1"))
	require.True(t, ok)
	assert.Equal(t, time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC), e.Time)
	assert.Equal(t, "stdout", e.Stream)
	assert.True(t, e.Partial)
	assert.Equal(t, "log content 1", string(e.Content))

	e, ok = ParseCRI([]byte("2016-10-06T00:17:09.669794202+02:00 stderr F:x:y "))
	require.True(t, ok, "tags may grow with ':' and content may be empty")
	assert.False(t, e.Partial)
	assert.Equal(t, "stderr", e.Stream)
	assert.Empty(t, e.Content)

	e, ok = ParseCRI([]byte("2016-10-06T00:17:09Z stdout F"))
	require.True(t, ok)
	assert.Empty(t, e.Content)

	for _, bad := range []string{"", "no spaces", "2016-10-06 stdout F x", "2016-10-06T00:17:09Z stdin F x", "2016-10-06T00:17:09Z stdout X x", "2016-10-06T00:17:09Z stdout"} {
		_, ok := ParseCRI([]byte(bad))
		assert.False(t, ok, bad)
	}
	assert.True(t, LooksLikeCRI([]byte("2016-10-06T00:17:09.669794202Z stdout F hello")))
	assert.False(t, LooksLikeCRI([]byte(`{"log":"x"}`)))
}

func TestDockerDecode(t *testing.T) {
	var d DockerDecoder
	e, ok := d.Decode([]byte(`{"log":"content \"1\" \u00e9\ud83d\ude00\n","stream":"stderr","time":"2016-10-20T18:39:20.57606443Z"}`))
	require.True(t, ok)
	assert.Equal(t, "content \"1\" é😀", string(e.Content))
	assert.Equal(t, "stderr", e.Stream)
	assert.False(t, e.Partial)
	assert.Equal(t, time.Date(2016, 10, 20, 18, 39, 20, 576064430, time.UTC), e.Time)

	e, ok = d.Decode([]byte(`{"log":"chunk","stream":"stdout","attrs":{"a":[1,{"b":"}"}]},"n":-1.5,"time":"2016-10-20T18:39:20Z"}`))
	require.True(t, ok, "unknown keys are skipped")
	assert.True(t, e.Partial)
	assert.Equal(t, "chunk", string(e.Content))

	for _, bad := range []string{``, `{`, `{"log":"x\n"}`, `{"log":1,"stream":"stdout"}`, `{"log":"x","stream":"stdin"}`, `{"log":"\x","stream":"stdout"}`, `{"log":"x","stream":"stdout"} trailing`, `{"log":"x","stream":"stdout","time":"yesterday"}`} {
		_, ok := d.Decode([]byte(bad))
		assert.False(t, ok, bad)
	}
}

func TestJoiner(t *testing.T) {
	j := NewJoiner(10)
	_, done := j.Add(Entry{Stream: "stdout", Partial: true, Content: []byte("abc")}, 100, false)
	assert.False(t, done)
	start, ok := j.Pending()
	assert.True(t, ok)
	assert.Equal(t, int64(100), start)
	_, done = j.Add(Entry{Partial: true, Content: []byte("def")}, 150, false)
	assert.False(t, done)
	out, done := j.Add(Entry{Content: []byte("ghijkl")}, 200, false)
	require.True(t, done)
	assert.Equal(t, "abcdefghij", string(out.Content))
	assert.True(t, out.Truncated)
	assert.Equal(t, int64(100), out.Start)
	assert.Equal(t, "stdout", out.Stream, "metadata of the first chunk")

	out, done = j.Add(Entry{Content: []byte("whole")}, 300, false)
	require.True(t, done)
	assert.Equal(t, "whole", string(out.Content))
	assert.False(t, out.Truncated)

	_, _ = j.Add(Entry{Partial: true, Content: []byte("left")}, 400, false)
	out, ok = j.Flush()
	require.True(t, ok)
	assert.Equal(t, "left", string(out.Content))
	_, ok = j.Flush()
	assert.False(t, ok)
}

func FuzzParseCRI(f *testing.F) {
	f.Add("2016-10-06T00:17:09.669794202Z stdout P log content 1")
	f.Add("2016-10-06T00:17:09Z stderr F:a:b ")
	f.Add("2016-10-06T00:17:09Z stdout")
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := ParseCRI([]byte(line))
		if !ok {
			return
		}
		if e.Stream != "stdout" && e.Stream != "stderr" {
			t.Fatalf("stream %q", e.Stream)
		}
		if !strings.HasSuffix(line, string(e.Content)) {
			t.Fatalf("content %q is not the tail of %q", e.Content, line)
		}
	})
}

// FuzzDockerDecode compares the decoder with encoding/json on every line both accept.
func FuzzDockerDecode(f *testing.F) {
	f.Add(`{"log":"content 1\n","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}`)
	f.Add(`{"log":"\ud83d\ude00 \ud800 x\t","stream":"stderr","attrs":{"k":["v",1]}}`)
	f.Add(`{"log":"","stream":"stdout"}`)
	f.Fuzz(func(t *testing.T, line string) {
		var d DockerDecoder
		e, ok := d.Decode([]byte(line))
		if !ok {
			return
		}
		var ref struct {
			Log    *string `json:"log"`
			Stream string  `json:"stream"`
		}
		if err := json.Unmarshal([]byte(line), &ref); err != nil || ref.Log == nil {
			return // we are more lenient on some inputs (e.g. duplicate keys); only compare agreed documents
		}
		want := strings.TrimSuffix(*ref.Log, "\n")
		// encoding/json turns each invalid byte into U+FFFD; the decoder keeps
		// such bytes as written (the parser makes the line valid later), so
		// compare with each invalid byte replaced, as converting to runes does.
		if string([]rune(want)) != string([]rune(string(e.Content))) {
			t.Fatalf("content %q, encoding/json says %q", e.Content, want)
		}
		if e.Partial == strings.HasSuffix(*ref.Log, "\n") {
			t.Fatalf("partial=%v for log %q", e.Partial, *ref.Log)
		}
	})
}

func FuzzJoiner(f *testing.F) {
	f.Add([]byte("abc"), []byte{1, 0, 1, 1, 0}, uint8(4))
	f.Fuzz(func(t *testing.T, content []byte, partials []byte, maxSize uint8) {
		size := int(maxSize) + 1
		j := NewJoiner(size)
		for i, p := range partials {
			out, done := j.Add(Entry{Partial: p%2 == 1, Content: content}, int64(i), false)
			if done && len(out.Content) > size {
				t.Fatalf("joined %d bytes over max %d", len(out.Content), size)
			}
		}
		if out, ok := j.Flush(); ok && len(out.Content) > size {
			t.Fatalf("flushed %d bytes over max %d", len(out.Content), size)
		}
	})
}
