package loadgen

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/testbed/validate"
)

// RotateMode says how FileWriter rotates its file.
type RotateMode string

const (
	// RotateNone never rotates.
	RotateNone RotateMode = ""
	// RotateRename renames path to path.1 (shifting older ones) and reopens path.
	RotateRename RotateMode = "rename"
	// RotateCopyTruncate copies path to path.1 and truncates path in place, like
	// logrotate's copytruncate. The writer pauses while it rotates, so every line
	// is in exactly one file; a tailer can still miss lines it had not read yet.
	RotateCopyTruncate RotateMode = "copytruncate"
)

// FileConfig shapes a file-tailing workload.
type FileConfig struct {
	// Path is the file appended to.
	Path string
	// Rate is lines per second (0 = as fast as possible).
	Rate float64
	// Lines to write in total; Duration bounds the run too when > 0.
	Lines    int
	Duration time.Duration
	// RotateEvery lines (0 = never) in the given Mode, keeping at most Keep old files (default 3).
	RotateEvery int
	Mode        RotateMode
	Keep        int
	// JSON writes one JSON object per line instead of a plain-text line.
	JSON bool
	// RunID prefixes the ids (default a random one).
	RunID string
}

// FileResult lists the ids of every line written (complete lines, flushed).
type FileResult struct {
	Written  *validate.Multiset
	Rotated  int
	Elapsed  time.Duration
	Rotation RotateMode
}

// WriteFile appends lines carrying `sluice.test.id=<id>` (or the JSON field) to cfg.Path.
func WriteFile(ctx context.Context, cfg FileConfig) (*FileResult, error) {
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 3
	}
	if cfg.Lines <= 0 && cfg.Duration <= 0 {
		return nil, fmt.Errorf("file load: set Lines or Duration")
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	res := &FileResult{Written: validate.NewMultiset(cfg.RunID + "-f"), Rotation: cfg.Mode}
	f, err := openAppend(cfg.Path)
	if err != nil {
		return nil, err
	}
	defer func() { f.Close() }()
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	began := time.Now()
	due := began
	line := make([]byte, 0, 256)
	for n := 0; cfg.Lines <= 0 || n < cfg.Lines; n++ {
		if ctx.Err() != nil {
			break
		}
		if cfg.RotateEvery > 0 && n > 0 && n%cfg.RotateEvery == 0 {
			if f, err = rotate(f, cfg); err != nil {
				return res, err
			}
			res.Rotated++
		}
		id := res.Written.ID(uint64(n))
		line = formatLine(line[:0], cfg.JSON, id, n)
		if _, err := f.Write(line); err != nil {
			return res, fmt.Errorf("append to %s: %w", cfg.Path, err)
		}
		res.Written.Add(id)
		if interval > 0 {
			due = due.Add(interval)
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
	}
	res.Elapsed = time.Since(began)
	return res, f.Sync()
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

var levels = []string{"INFO", "INFO", "WARN", "DEBUG", "ERROR"}

func formatLine(b []byte, asJSON bool, id string, n int) []byte {
	level := levels[n%len(levels)]
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	if asJSON {
		b = append(b, `{"time":"`...)
		b = append(b, ts...)
		b = append(b, `","level":"`...)
		b = append(b, level...)
		b = append(b, `","msg":"request handled","sluice.test.id":"`...)
		b = append(b, id...)
		b = append(b, `","latency_ms":`...)
		b = strconv.AppendInt(b, int64(n%250), 10)
		return append(b, "}\n"...)
	}
	b = append(b, ts...)
	b = append(b, ' ')
	b = append(b, level...)
	b = append(b, " request handled sluice.test.id="...)
	b = append(b, id...)
	b = append(b, " latency_ms="...)
	b = strconv.AppendInt(b, int64(n%250), 10)
	return append(b, '\n')
}

// rotate shifts path.N files and applies the rotation mode, returning the
// file to keep appending to.
func rotate(f *os.File, cfg FileConfig) (*os.File, error) {
	for i := cfg.Keep - 1; i >= 1; i-- {
		from, to := cfg.Path+"."+strconv.Itoa(i), cfg.Path+"."+strconv.Itoa(i+1)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, to); err != nil {
				return f, fmt.Errorf("shift %s: %w", from, err)
			}
		}
	}
	switch cfg.Mode {
	case RotateRename:
		if err := f.Close(); err != nil {
			return f, err
		}
		if err := os.Rename(cfg.Path, cfg.Path+".1"); err != nil {
			return f, fmt.Errorf("rotate %s by rename: %w", cfg.Path, err)
		}
		return openAppend(cfg.Path)
	case RotateCopyTruncate:
		if err := copyTo(cfg.Path, cfg.Path+".1"); err != nil {
			return f, err
		}
		if err := f.Truncate(0); err != nil {
			return f, fmt.Errorf("truncate %s: %w", cfg.Path, err)
		}
		return f, nil // O_APPEND: next write lands at offset 0
	default:
		return f, fmt.Errorf("unknown rotate mode %q (allowed: %s, %s)", cfg.Mode, RotateRename, RotateCopyTruncate)
	}
}

func copyTo(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// ParseFileLineID extracts the id from a line written by WriteFile (plain or JSON).
func ParseFileLineID(line string) (string, bool) {
	if i := strings.Index(line, "sluice.test.id="); i >= 0 {
		rest := line[i+len("sluice.test.id="):]
		if j := strings.IndexByte(rest, ' '); j >= 0 {
			rest = rest[:j]
		}
		id := strings.TrimRight(rest, "\r\n")
		return id, id != ""
	}
	if i := strings.Index(line, `"sluice.test.id":"`); i >= 0 {
		rest := line[i+len(`"sluice.test.id":"`):]
		if j := strings.IndexByte(rest, '"'); j > 0 {
			return rest[:j], true
		}
	}
	return "", false
}
