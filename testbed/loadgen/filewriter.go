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
	// AppLog writes JSON lines shaped like a web service's request log
	// (AppendAppLogLine: ~480 B, HTTP and trace fields, PII listed by
	// AppLogPII) instead of the short JSON or plain-text line.
	AppLog bool
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
		if cfg.AppLog {
			line = AppendAppLogLine(line[:0], id, n, time.Now())
		} else {
			line = formatLine(line[:0], cfg.JSON, id, n)
		}
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

// AppLogTimeKey is the field of an app-log line that holds the time the line
// was written (RFC 3339 with nanoseconds, taken just before the write), so a
// reader can compute ingest latency from the record it receives.
const AppLogTimeKey = "time"

// appLogKind is one of the request types an app-log line describes.
type appLogKind struct {
	service, logger, method, route string
	status                         int
}

var appLogKinds = [...]appLogKind{
	{"checkout", "http.access", "POST", "/api/v1/orders", 201},
	{"payments", "payments.gateway", "POST", "/api/v1/charges", 200},
	{"accounts", "auth.session", "POST", "/api/v1/session", 200},
	{"search", "http.access", "GET", "/api/v1/search", 200},
}

var (
	firstNames  = [...]string{"jane", "john", "maria", "li", "ahmed", "olga", "pierre", "sofia"}
	lastNames   = [...]string{"doe", "smith", "garcia", "wang", "khan", "ivanova", "martin", "rossi"}
	mailDomains = [...]string{"example.com", "mail.example.org", "corp.example.net"}
	firstOctets = [...]int{81, 92, 145, 178, 198, 203}
)

// AppendAppLogLine appends line n of the app-log shape: a JSON request log of
// one of four services with level, logger, message, HTTP fields, trace and
// request ids, and PII (an e-mail address and a client IPv4 in every line, a
// Luhn-valid card number in every fourth) in the message and in attributes.
// Everything but the time is a pure function of n (AppLogPII(n) lists the
// planted values); written is the write time stored under AppLogTimeKey.
func AppendAppLogLine(b []byte, id string, n int, written time.Time) []byte {
	h := mix64(uint64(n))
	k := appLogKinds[n%len(appLogKinds)]
	level, status := "INFO", k.status
	switch {
	case n%20 == 0:
		level, status = "ERROR", 500
	case n%7 == 0:
		level = "WARN"
	case n%11 == 0:
		level = "DEBUG"
	}
	durationMS := int64(2 + h%180)
	order := int64(100000 + (h>>20)%900000)

	b = append(b, `{"`+AppLogTimeKey+`":"`...)
	b = written.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level...)
	b = append(b, `","service":"`...)
	b = append(b, k.service...)
	b = append(b, `","logger":"`...)
	b = append(b, k.logger...)
	b = append(b, `","msg":"`...)
	switch n % len(appLogKinds) {
	case 0:
		b = append(b, "order o-"...)
		b = strconv.AppendInt(b, order, 10)
		b = append(b, " created for "...)
		b = appendEmail(b, h)
	case 1:
		b = append(b, "charged card "...)
		b = appendCard(b, h)
		b = append(b, " for order o-"...)
		b = strconv.AppendInt(b, order, 10)
		b = append(b, " amount "...)
		b = strconv.AppendInt(b, int64(5+(h>>40)%400), 10)
		b = append(b, ".99 EUR"...)
	case 2:
		b = append(b, "login succeeded for "...)
		b = appendEmail(b, h)
		b = append(b, " from "...)
		b = appendIPv4(b, h)
	default:
		b = append(b, k.method...)
		b = append(b, ' ')
		b = append(b, k.route...)
		b = append(b, "?q=running+shoes&page="...)
		b = strconv.AppendInt(b, int64(1+h%9), 10)
		b = append(b, " returned "...)
		b = strconv.AppendInt(b, int64(h%50), 10)
		b = append(b, " hits"...)
	}
	b = append(b, `","http.method":"`...)
	b = append(b, k.method...)
	b = append(b, `","http.route":"`...)
	b = append(b, k.route...)
	b = append(b, `","http.status_code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, durationMS, 10)
	b = append(b, `,"client.ip":"`...)
	b = appendIPv4(b, h)
	b = append(b, `","user.email":"`...)
	b = appendEmail(b, h)
	if n%len(appLogKinds) == 1 {
		b = append(b, `","payment.card":"`...)
		b = appendCard(b, h)
	}
	b = append(b, `","trace_id":"`...)
	b = appendHex(b, mix64(h), 16)
	b = appendHex(b, mix64(h+1), 16)
	b = append(b, `","span_id":"`...)
	b = appendHex(b, mix64(h+2), 16)
	b = append(b, `","request_id":"req-`...)
	b = appendHex(b, mix64(h+3), 12)
	b = append(b, `","sluice.test.id":"`...)
	b = append(b, id...)
	return append(b, "\"}\n"...)
}

// AppLogPII returns the sensitive values AppendAppLogLine planted in line n,
// so a reader can check that none of them survived masking.
func AppLogPII(n int) []string {
	h := mix64(uint64(n))
	pii := []string{string(appendEmail(nil, h)), string(appendIPv4(nil, h))}
	if n%len(appLogKinds) == 1 {
		pii = append(pii, string(appendCard(nil, h)))
	}
	return pii
}

// mix64 is SplitMix64's finalizer: a cheap, well-spread hash of the line number.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func appendEmail(b []byte, h uint64) []byte {
	b = append(b, firstNames[h%uint64(len(firstNames))]...)
	b = append(b, '.')
	b = append(b, lastNames[(h>>8)%uint64(len(lastNames))]...)
	b = strconv.AppendUint(b, (h>>16)%1000, 10)
	b = append(b, '@')
	return append(b, mailDomains[(h>>26)%uint64(len(mailDomains))]...)
}

// appendIPv4 writes a public-looking address (never loopback, .0 or .255).
func appendIPv4(b []byte, h uint64) []byte {
	b = strconv.AppendInt(b, int64(firstOctets[(h>>32)%uint64(len(firstOctets))]), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h>>36)%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h>>44)%256, 10)
	b = append(b, '.')
	return strconv.AppendUint(b, 1+(h>>52)%254, 10)
}

// appendCard writes a Luhn-valid 16-digit Visa test number.
func appendCard(b []byte, h uint64) []byte {
	var d [16]byte
	d[0] = 4
	x := mix64(h ^ 0xc0ffee)
	for i := 1; i < 15; i++ {
		d[i] = byte(x % 10)
		x /= 10
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := int(d[i])
		if (14-i)%2 == 0 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte((10 - sum%10) % 10)
	for _, v := range d {
		b = append(b, '0'+v)
	}
	return b
}

func appendHex(b []byte, x uint64, digits int) []byte {
	const hexDigits = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexDigits[(x>>(4*uint(i)))&0xf])
	}
	return b
}
