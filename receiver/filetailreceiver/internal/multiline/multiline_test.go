package multiline

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// split feeds text line by line and returns the records, flushing at the end.
func split(t *testing.T, cls Classifier, maxSize int, text string) []Record[int] {
	t.Helper()
	agg := NewAggregator[int](cls, maxSize)
	var out []Record[int]
	emit := func(r Record[int]) {
		r.Data = append([]byte(nil), r.Data...)
		out = append(out, r)
	}
	var off int64
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		end := off + int64(len(line)) + 1
		agg.Add([]byte(line), i, off, end, false, time.Time{}, emit)
		off = end
	}
	agg.Flush(emit)
	return out
}

func bodies(recs []Record[int]) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

const javaTrace = `2024-05-01 12:00:00 ERROR request failed
java.lang.IllegalStateException: boom
	at com.example.Service.handle(Service.java:42)
	at com.example.Main.main(Main.java:7)
Caused by: java.io.IOException: disk
	at com.example.Disk.read(Disk.java:9)
	... 2 more
2024-05-01 12:00:01 INFO next request
`

func TestJavaPreset(t *testing.T) {
	cls, err := NewPreset(PresetJava)
	require.NoError(t, err)
	recs := split(t, cls, 1<<20, javaTrace)
	require.Len(t, recs, 2)
	assert.True(t, strings.HasPrefix(bodies(recs)[0], "2024-05-01 12:00:00 ERROR request failed\njava.lang.IllegalStateException"))
	assert.True(t, strings.HasSuffix(bodies(recs)[0], "\t... 2 more"))
	assert.Equal(t, "2024-05-01 12:00:01 INFO next request", bodies(recs)[1])
	assert.Equal(t, 0, recs[0].Meta, "meta of the first line")
	assert.Equal(t, int64(0), recs[0].Start)
	assert.Equal(t, recs[1].Start, recs[0].End, "records tile the file")
}

const pythonTrace = `ERROR:root:failed
Traceback (most recent call last):
  File "app.py", line 3, in <module>
    main()
ValueError: bad value

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "app.py", line 5, in <module>
KeyError: 'x'
INFO:root:done
`

func TestPythonPreset(t *testing.T) {
	cls, err := NewPreset(PresetPython)
	require.NoError(t, err)
	recs := split(t, cls, 1<<20, pythonTrace)
	require.Len(t, recs, 2, bodies(recs))
	assert.True(t, strings.HasPrefix(bodies(recs)[0], "ERROR:root:failed\nTraceback"), "logging.exception output is one record")
	assert.Contains(t, bodies(recs)[0], "ValueError: bad value\n\nDuring handling")
	assert.True(t, strings.HasSuffix(bodies(recs)[0], "KeyError: 'x'"))
	assert.Equal(t, "INFO:root:done", bodies(recs)[1])
}

const goPanic = `starting server
panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.handler(...)
	/src/main.go:12
main.(*Server).Serve(0xc000010000)
	/src/main.go:20 +0x1d
created by main.main in goroutine 1
	/src/main.go:30 +0x25
exit status 2
after restart
`

func TestGoPreset(t *testing.T) {
	cls, err := NewPreset(PresetGo)
	require.NoError(t, err)
	recs := split(t, cls, 1<<20, goPanic)
	require.Len(t, recs, 3, bodies(recs))
	assert.Equal(t, "starting server", bodies(recs)[0])
	assert.True(t, strings.HasPrefix(bodies(recs)[1], "panic: runtime error"))
	assert.True(t, strings.HasSuffix(bodies(recs)[1], "exit status 2"))
	assert.Equal(t, "after restart", bodies(recs)[2])
}

func TestStartPatternAndMaxSize(t *testing.T) {
	cls, err := NewStartPattern(`^\d{4}-`)
	require.NoError(t, err)
	recs := split(t, cls, 20, "2024-a\ncont1\ncont2 is long enough to overflow\n2024-b\n")
	require.Len(t, recs, 2)
	assert.Equal(t, "2024-a\ncont1\ncont2 i", bodies(recs)[0])
	assert.Len(t, recs[0].Data, 20)
	assert.True(t, recs[0].Truncated)
	assert.False(t, recs[1].Truncated)

	_, err = NewStartPattern("(")
	require.Error(t, err)
	_, err = NewPreset("cobol")
	require.ErrorContains(t, err, `unknown multiline preset "cobol"`)
}

func TestFlushIdleAndPending(t *testing.T) {
	cls, err := NewStartPattern(`^S`)
	require.NoError(t, err)
	agg := NewAggregator[struct{}](cls, 100)
	var got []string
	emit := func(r Record[struct{}]) { got = append(got, string(r.Data)) }
	t0 := time.Unix(1000, 0)
	agg.Add([]byte("S1"), struct{}{}, 10, 13, false, t0, emit)
	agg.Add([]byte(" c"), struct{}{}, 13, 16, false, t0.Add(time.Millisecond), emit)
	start, ok := agg.Pending()
	require.True(t, ok)
	assert.Equal(t, int64(10), start)
	assert.Equal(t, 5, agg.PendingBytes())

	agg.FlushIdle(t0.Add(500*time.Millisecond), time.Second, emit)
	assert.Empty(t, got, "not idle long enough")
	agg.FlushIdle(t0.Add(2*time.Second), time.Second, emit)
	assert.Equal(t, []string{"S1\n c"}, got)
	_, ok = agg.Pending()
	assert.False(t, ok)
}

// FuzzPresets checks that every preset splits arbitrary text into records
// that tile the input, stay within the maximum size, and never panic.
func FuzzPresets(f *testing.F) {
	f.Add(javaTrace, uint8(0), uint16(64))
	f.Add(pythonTrace, uint8(1), uint16(1000))
	f.Add(goPanic, uint8(2), uint16(10))
	f.Add("a\n\tb\n(\n)\n", uint8(2), uint16(1))
	f.Fuzz(func(t *testing.T, text string, preset uint8, maxSize uint16) {
		names := PresetNames()
		cls, err := NewPreset(names[int(preset)%len(names)])
		if err != nil {
			t.Fatal(err)
		}
		size := int(maxSize%4096) + 1
		agg := NewAggregator[int](cls, size)
		var next int64
		emit := func(r Record[int]) {
			if r.Start != next || r.End < r.Start || len(r.Data) > size {
				t.Fatalf("record %+v breaks tiling at %d or exceeds %d", r, next, size)
			}
			next = r.End
		}
		var off int64
		for i, line := range strings.Split(text, "\n") {
			end := off + int64(len(line)) + 1
			agg.Add([]byte(line), i, off, end, false, time.Time{}, emit)
			off = end
		}
		agg.Flush(emit)
		if next != off {
			t.Fatalf("records cover %d of %d bytes", next, off)
		}
	})
}
