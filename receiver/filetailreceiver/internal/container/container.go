// Package container decodes the log files container runtimes write on a
// Kubernetes node: the CRI format of containerd and CRI-O, and Docker's
// json-file format. Both split long lines into partial chunks; Joiner puts
// them back together.
package container // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/container"

import (
	"bytes"
	"time"
)

// Entry is one decoded line of a container log file.
type Entry struct {
	// Time is the runtime's timestamp of the line.
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Partial is set when the line is a chunk of a longer line.
	Partial bool
	// Content is the application's output without the trailing newline. It
	// aliases the input line or the decoder's scratch buffer.
	Content []byte
}

var (
	streamStdout = []byte("stdout")
	streamStderr = []byte("stderr")
)

func streamName(b []byte) (string, bool) {
	switch {
	case bytes.Equal(b, streamStdout):
		return "stdout", true
	case bytes.Equal(b, streamStderr):
		return "stderr", true
	}
	return "", false
}

// LooksLikeCRI is a cheap check (no parsing) used for format detection: a
// digit, then an RFC 3339 date shape up to the 'T'.
func LooksLikeCRI(line []byte) bool {
	return len(line) > 30 && line[4] == '-' && line[7] == '-' && line[10] == 'T' &&
		line[0] >= '0' && line[0] <= '9' && bytes.Contains(line[19:min(len(line), 48)], []byte(" std"))
}

// ParseCRI decodes "<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <content>".
func ParseCRI(line []byte) (Entry, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return Entry{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return Entry{}, false
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return Entry{}, false
	}
	stream, ok := streamName(rest[:sp])
	if !ok {
		return Entry{}, false
	}
	rest = rest[sp+1:]
	var tags, content []byte
	if sp = bytes.IndexByte(rest, ' '); sp >= 0 {
		tags, content = rest[:sp], rest[sp+1:]
	} else {
		tags = rest
	}
	if c := bytes.IndexByte(tags, ':'); c >= 0 {
		tags = tags[:c]
	}
	var partial bool
	switch string(tags) {
	case "P":
		partial = true
	case "F":
	default:
		return Entry{}, false
	}
	return Entry{Time: ts, Stream: stream, Partial: partial, Content: content}, true
}

// Joiner reassembles partial chunks into one line, bounded by a maximum size.
// Chunks are joined per stream: the runtime writes stdout and stderr into the
// same file from two writers, so a long stdout line split into chunks can be
// interleaved with stderr lines (and the other way round).
type Joiner struct {
	out, err streamJoiner
}

// streamJoiner joins the chunks of one stream.
type streamJoiner struct {
	maxSize   int
	buf       []byte
	first     Entry
	start     int64
	pending   bool
	truncated bool
}

// NewJoiner returns a Joiner cutting joined lines at maxSize bytes.
func NewJoiner(maxSize int) *Joiner {
	return &Joiner{out: streamJoiner{maxSize: maxSize}, err: streamJoiner{maxSize: maxSize}}
}

// Joined is a complete line.
type Joined struct {
	Entry
	// Start is the file offset of the first chunk.
	Start int64
	// Truncated is set when the joined line exceeded the maximum.
	Truncated bool
}

// Add feeds the entry read from [start, end). It returns the complete line
// when e ends one (its Content is valid until the next Add or Flush).
func (j *Joiner) Add(e Entry, start int64, truncated bool) (Joined, bool) {
	if e.Stream == "stderr" {
		return j.err.add(e, start, truncated)
	}
	return j.out.add(e, start, truncated)
}

func (j *streamJoiner) add(e Entry, start int64, truncated bool) (Joined, bool) {
	if !j.pending && !e.Partial {
		if len(e.Content) > j.maxSize {
			e.Content = e.Content[:j.maxSize]
			truncated = true
		}
		return Joined{Entry: e, Start: start, Truncated: truncated}, true
	}
	if !j.pending {
		j.pending, j.first, j.start, j.truncated = true, e, start, false
		j.buf = j.buf[:0]
	}
	room := j.maxSize - len(j.buf)
	c := e.Content
	if len(c) > room {
		c = c[:max(room, 0)]
		truncated = true
	}
	j.buf = append(j.buf, c...)
	j.truncated = j.truncated || truncated
	if e.Partial {
		return Joined{}, false
	}
	return j.flush()
}

// Pending returns the file offset of the first buffered chunk (the earliest
// over both streams).
func (j *Joiner) Pending() (start int64, ok bool) {
	switch {
	case j.out.pending && j.err.pending:
		return min(j.out.start, j.err.start), true
	case j.out.pending:
		return j.out.start, true
	case j.err.pending:
		return j.err.start, true
	}
	return 0, false
}

// PendingBytes is the size of the buffered chunks.
func (j *Joiner) PendingBytes() int { return j.out.pendingBytes() + j.err.pendingBytes() }

func (j *streamJoiner) pendingBytes() int {
	if !j.pending {
		return 0
	}
	return len(j.buf)
}

// FlushOrNil is Flush on a possibly nil Joiner (files without envelopes).
func (j *Joiner) FlushOrNil() (Joined, bool) {
	if j == nil {
		return Joined{}, false
	}
	return j.Flush()
}

// Flush returns the buffered chunks of one stream as a line, the earliest
// first (used when a file is released with an unfinished partial line). Call
// it until it returns false to flush both streams; each line's Content is
// valid until the next Add.
func (j *Joiner) Flush() (Joined, bool) {
	if j.err.pending && (!j.out.pending || j.err.start < j.out.start) {
		return j.err.flush()
	}
	return j.out.flush()
}

func (j *streamJoiner) flush() (Joined, bool) {
	if !j.pending {
		return Joined{}, false
	}
	j.pending = false
	out := j.first
	out.Partial = false
	out.Content = j.buf
	return Joined{Entry: out, Start: j.start, Truncated: j.truncated}, true
}
