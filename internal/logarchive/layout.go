package logarchive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultTemplate is the default partition path template (Hive style).
const DefaultTemplate = "{signal}/service={service}/dt={date}/hour={hour}"

// SignalLogs is the {signal} value of log partitions.
const SignalLogs = "logs"

// SignalTraces is the {signal} value of span partitions.
const SignalTraces = "traces"

// FileExtension ends every archive file name.
const FileExtension = ".parquet"

// NullPartitionValue stands for an empty or missing value in a partition
// path (Hive's own spelling, understood by Spark and Hive).
const NullPartitionValue = "__HIVE_DEFAULT_PARTITION__"

// Placeholders a template may use. {date} or all of {year}/{month}/{day} are
// required; without {hour} a partition spans a whole UTC day.
const (
	PlaceholderSignal  = "{signal}"
	PlaceholderService = "{service}"
	PlaceholderDate    = "{date}"  // YYYY-MM-DD
	PlaceholderYear    = "{year}"  // YYYY
	PlaceholderMonth   = "{month}" // MM
	PlaceholderDay     = "{day}"   // DD
	PlaceholderHour    = "{hour}"  // HH
)

var placeholderPatterns = map[string]string{
	PlaceholderSignal:  `[a-z_]+`,
	PlaceholderService: `[^/]+`,
	PlaceholderDate:    `[0-9]{4}-[0-9]{2}-[0-9]{2}`,
	PlaceholderYear:    `[0-9]{4}`,
	PlaceholderMonth:   `[0-9]{2}`,
	PlaceholderDay:     `[0-9]{2}`,
	PlaceholderHour:    `[0-9]{2}`,
}

var placeholderInTemplate = regexp.MustCompile(`\{[a-z]+\}`)

// Partition identifies one partition directory of the archive.
type Partition struct {
	// Signal is the telemetry signal, e.g. SignalLogs.
	Signal string
	// Service is the service.name of the rows ("" when absent). In a
	// partition parsed from a bounded path segment (see EscapeValue) it is
	// only the value's prefix, and ServiceDigest is set.
	Service string
	// ServiceDigest is set by ParsePath when the path kept only a prefix of
	// a long service.name: the value's digest (16 hex digits). Use
	// MatchesService to compare such a partition with a full value.
	ServiceDigest string
	// Start is the UTC start of the partition's time range (hour or day).
	Start time.Time
}

// Layout builds and parses partition paths for one template. It is
// immutable and safe for concurrent use.
type Layout struct {
	template  string
	parts     []string // placeholders in order of appearance
	pattern   *regexp.Regexp
	hourly    bool
	byService bool
}

// NewLayout validates template and returns its Layout. A template is a
// relative, '/'-separated path of literal text and placeholders; every
// placeholder appears at most once and adjacent placeholders must be separated
// by literal text so a path parses back unambiguously.
func NewLayout(template string) (*Layout, error) {
	if template == "" {
		return nil, errors.New("template must not be empty")
	}
	if strings.HasPrefix(template, "/") || strings.HasSuffix(template, "/") || strings.Contains(template, "//") {
		return nil, fmt.Errorf("template %q must be a relative path without empty segments", template)
	}
	for _, seg := range strings.Split(template, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return nil, fmt.Errorf("template %q: segment %q must not start with '.'", template, seg)
		}
	}
	l := &Layout{template: template}
	var re strings.Builder
	re.WriteString("^")
	seen := map[string]bool{}
	prevEnd := -1
	for _, loc := range placeholderInTemplate.FindAllStringIndex(template, -1) {
		ph := template[loc[0]:loc[1]]
		pat, ok := placeholderPatterns[ph]
		if !ok {
			return nil, fmt.Errorf("template %q: unknown placeholder %s (allowed: {signal} {service} {date} {year} {month} {day} {hour})", template, ph)
		}
		if seen[ph] {
			return nil, fmt.Errorf("template %q: placeholder %s appears twice", template, ph)
		}
		if prevEnd == loc[0] {
			return nil, fmt.Errorf("template %q: placeholder %s must be separated from the previous one by literal text", template, ph)
		}
		seen[ph] = true
		start := prevEnd
		if start < 0 {
			start = 0
		}
		re.WriteString(regexp.QuoteMeta(template[start:loc[0]]))
		re.WriteString("(" + pat + ")")
		l.parts = append(l.parts, ph)
		prevEnd = loc[1]
	}
	if prevEnd < 0 {
		prevEnd = 0
	}
	if strings.ContainsAny(template[prevEnd:], "{}") || strings.ContainsAny(placeholderInTemplate.ReplaceAllString(template, ""), "{}") {
		return nil, fmt.Errorf("template %q: unbalanced or malformed placeholder braces", template)
	}
	re.WriteString(regexp.QuoteMeta(template[prevEnd:]))
	re.WriteString("$")
	if !seen[PlaceholderDate] && !(seen[PlaceholderYear] && seen[PlaceholderMonth] && seen[PlaceholderDay]) {
		return nil, fmt.Errorf("template %q must contain {date} or all of {year}, {month}, {day}", template)
	}
	if seen[PlaceholderDate] && (seen[PlaceholderYear] || seen[PlaceholderMonth] || seen[PlaceholderDay]) {
		return nil, fmt.Errorf("template %q: use either {date} or {year}/{month}/{day}, not both", template)
	}
	l.hourly = seen[PlaceholderHour]
	l.byService = seen[PlaceholderService]
	l.pattern = regexp.MustCompile(re.String())
	return l, nil
}

// Template returns the template the layout was built from.
func (l *Layout) Template() string { return l.template }

// Granularity is the time span of one partition: an hour with {hour} in the
// template, a day without.
func (l *Layout) Granularity() time.Duration {
	if l.hourly {
		return time.Hour
	}
	return 24 * time.Hour
}

// ByService reports whether the template has {service}, i.e. whether rows
// of different services go to different partitions. Without it a
// Partition's Service is always "".
func (l *Layout) ByService() bool { return l.byService }

// PartitionFor returns the partition holding a row of signal and service at t.
func (l *Layout) PartitionFor(signal, service string, t time.Time) Partition {
	if !l.byService {
		service = ""
	}
	return Partition{Signal: signal, Service: service, Start: t.UTC().Truncate(l.Granularity())}
}

// End returns the exclusive end of a partition's time range under l.
func (l *Layout) End(p Partition) time.Time { return p.Start.Add(l.Granularity()) }

// Path returns the partition's directory path (no leading or trailing '/').
// Service names are escaped with EscapeValue.
func (l *Layout) Path(p Partition) string {
	t := p.Start.UTC()
	var b strings.Builder
	b.Grow(len(l.template) + len(p.Service) + 8)
	last := 0
	for _, loc := range placeholderInTemplate.FindAllStringIndex(l.template, -1) {
		b.WriteString(l.template[last:loc[0]])
		switch l.template[loc[0]:loc[1]] {
		case PlaceholderSignal:
			b.WriteString(p.Signal)
		case PlaceholderService:
			if p.ServiceDigest != "" {
				// Rebuild the parsed segment exactly: the prefix was cut at
				// an escape boundary, so escaping it again yields the same bytes.
				b.WriteString(escapeBytes(p.Service) + boundedMarker + p.ServiceDigest)
			} else {
				b.WriteString(EscapeValue(p.Service))
			}
		case PlaceholderDate:
			b.WriteString(t.Format("2006-01-02"))
		case PlaceholderYear:
			b.WriteString(t.Format("2006"))
		case PlaceholderMonth:
			b.WriteString(t.Format("01"))
		case PlaceholderDay:
			b.WriteString(t.Format("02"))
		case PlaceholderHour:
			b.WriteString(t.Format("15"))
		}
		last = loc[1]
	}
	b.WriteString(l.template[last:])
	return b.String()
}

// ParsePath parses a partition directory path produced by Path.
func (l *Layout) ParsePath(dir string) (Partition, error) {
	dir = strings.Trim(dir, "/")
	m := l.pattern.FindStringSubmatch(dir)
	if m == nil {
		return Partition{}, fmt.Errorf("path %q does not match template %q", dir, l.template)
	}
	var p Partition
	var date string
	year, month, day, hour := -1, -1, -1, 0
	for i, ph := range l.parts {
		v := m[i+1]
		switch ph {
		case PlaceholderSignal:
			p.Signal = v
		case PlaceholderService:
			prefix, digest := splitBounded(v)
			svc, err := UnescapeValue(prefix)
			if err != nil {
				return Partition{}, fmt.Errorf("path %q: service: %w", dir, err)
			}
			p.Service, p.ServiceDigest = svc, digest
		case PlaceholderDate:
			date = v
		case PlaceholderYear:
			year, _ = strconv.Atoi(v)
		case PlaceholderMonth:
			month, _ = strconv.Atoi(v)
		case PlaceholderDay:
			day, _ = strconv.Atoi(v)
		case PlaceholderHour:
			hour, _ = strconv.Atoi(v)
		}
	}
	if date == "" {
		date = fmt.Sprintf("%04d-%02d-%02d", year, month, day)
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return Partition{}, fmt.Errorf("path %q: invalid date %q", dir, date)
	}
	if hour > 23 {
		return Partition{}, fmt.Errorf("path %q: hour %02d out of range 00-23", dir, hour)
	}
	p.Start = d.Add(time.Duration(hour) * time.Hour)
	return p, nil
}

// MaxEscapedValueLen bounds an escaped partition value so a path segment
// stays within file-system name limits (255 bytes on most) and S3's 1024-byte
// keys, with room for the template's literal text.
const MaxEscapedValueLen = 128

// boundedMarker separates the kept prefix of a long value from its digest.
// It is the escape of '~', which EscapeValue never escapes, so it cannot
// occur in the escaped form of a value that fits.
const boundedMarker = "%7E"

// digestLen is the number of hex digits of a bounded value's digest.
const digestLen = 16

// EscapeValue makes a partition value safe for one path segment the way Hive
// does: '%', '/', '=', '\', control characters and a few others become %XX;
// the empty string becomes NullPartitionValue. An escaped value longer than
// MaxEscapedValueLen keeps its first bytes (cut between escapes and UTF-8
// sequences), then "%7E" and a 64-bit SHA-256 digest of the full value in
// hex, so distinct long values stay in distinct partitions.
func EscapeValue(v string) string {
	if v == "" {
		return NullPartitionValue
	}
	var esc string
	if v == NullPartitionValue {
		// A literal NullPartitionValue must not read back as "".
		esc = "%5F" + v[1:]
	} else {
		esc = escapeBytes(v)
	}
	if len(esc) <= MaxEscapedValueLen {
		return esc
	}
	cut := MaxEscapedValueLen - len(boundedMarker) - digestLen
	// Never split a UTF-8 sequence (at most 3 continuation bytes; invalid
	// UTF-8 may be cut anywhere)...
	for back := 0; back < 3 && esc[cut]&0xC0 == 0x80; back++ {
		cut--
	}
	// ...nor a %XX escape: '%' only ever starts one.
	if esc[cut-1] == '%' {
		cut--
	} else if esc[cut-2] == '%' {
		cut -= 2
	}
	return esc[:cut] + boundedMarker + valueDigest(v)
}

// escapeBytes escapes the bytes of v that need it, and a leading '.', which
// readers would take for a hidden directory.
func escapeBytes(v string) string {
	n := 0
	for i := 0; i < len(v); i++ {
		if needsEscape(v[i]) {
			n++
		}
	}
	if n == 0 && (v == "" || v[0] != '.') {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 2*n + 2)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if needsEscape(c) || (i == 0 && c == '.') {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func valueDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:digestLen/2])
}

// splitBounded splits an escaped value made by EscapeValue into the escaped
// prefix and the digest of a bounded value; digest is "" for a value that fit.
func splitBounded(seg string) (prefix, digest string) {
	i := len(seg) - digestLen - len(boundedMarker)
	if i < 0 || seg[i:i+len(boundedMarker)] != boundedMarker {
		return seg, ""
	}
	d := seg[i+len(boundedMarker):]
	for j := 0; j < len(d); j++ {
		if (d[j] < '0' || d[j] > '9') && (d[j] < 'a' || d[j] > 'f') {
			return seg, ""
		}
	}
	return seg[:i], d
}

// IsBoundedValue reports whether an escaped value made by EscapeValue keeps
// only a prefix and a digest of a value too long for one segment.
func IsBoundedValue(escaped string) bool {
	_, d := splitBounded(escaped)
	return d != ""
}

// MatchesService reports whether rows of service.name s belong in p, also
// when p was parsed from a bounded segment that kept only a prefix of it.
func (p Partition) MatchesService(s string) bool {
	if p.ServiceDigest == "" {
		return p.Service == s
	}
	return strings.HasPrefix(s, p.Service) && valueDigest(s) == p.ServiceDigest
}

func needsEscape(c byte) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	switch c {
	case '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '[', ']', '^', '{', '}':
		return true
	}
	return false
}

// UnescapeValue reverses EscapeValue for values that fit
// MaxEscapedValueLen; a bounded value cannot be reversed and is an error
// (ParsePath reports its prefix and digest instead).
func UnescapeValue(v string) (string, error) {
	if v == NullPartitionValue {
		return "", nil
	}
	if _, d := splitBounded(v); d != "" {
		return "", fmt.Errorf("value %q keeps only a prefix and a digest of a longer value", v)
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", fmt.Errorf("truncated escape in %q", v)
		}
		x, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("invalid escape %q in %q", v[i:i+3], v)
		}
		b.WriteByte(byte(x))
		i += 2
	}
	return b.String(), nil
}

// FileName returns the archive file name "<writer>-<seq>.parquet" with seq
// zero-padded to 20 digits so names sort in sequence order.
func FileName(writer string, seq uint64) string {
	return fmt.Sprintf("%s-%020d%s", writer, seq, FileExtension)
}

// ParseFileName splits a name built by FileName. Names starting with '.' are
// in-progress temporary files and are rejected (see IsTemporary).
func ParseFileName(name string) (writer string, seq uint64, err error) {
	if IsTemporary(name) {
		return "", 0, fmt.Errorf("file name %q is a temporary file", name)
	}
	base, ok := strings.CutSuffix(name, FileExtension)
	if !ok {
		return "", 0, fmt.Errorf("file name %q does not end in %s", name, FileExtension)
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 || len(base)-i-1 != 20 {
		return "", 0, fmt.Errorf("file name %q is not <writer>-<20-digit seq>%s", name, FileExtension)
	}
	seq, err = strconv.ParseUint(base[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("file name %q: sequence: %w", name, err)
	}
	writer = base[:i]
	if err := ValidateWriterID(writer); err != nil {
		return "", 0, fmt.Errorf("file name %q: %w", name, err)
	}
	return writer, seq, nil
}

var writerIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidateWriterID checks a writer id: 1-128 characters of [A-Za-z0-9_.-],
// not starting with '.' or '-'.
func ValidateWriterID(id string) error {
	if !writerIDPattern.MatchString(id) {
		return fmt.Errorf("writer id %q must match ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", id)
	}
	return nil
}

// IsTemporary reports whether a file or object name (last path element)
// is an in-progress temporary that readers must skip.
func IsTemporary(name string) bool {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return strings.HasPrefix(name, ".")
}

// ArchiveFile is one file of the archive, as parsed from its relative path.
type ArchiveFile struct {
	Partition Partition
	Writer    string
	Seq       uint64
}

// FilePath returns the relative path "<partition path>/<file name>".
func (l *Layout) FilePath(f ArchiveFile) string {
	return l.Path(f.Partition) + "/" + FileName(f.Writer, f.Seq)
}

// ParseFilePath parses a relative file path built by FilePath.
func (l *Layout) ParseFilePath(rel string) (ArchiveFile, error) {
	rel = strings.TrimPrefix(rel, "/")
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ArchiveFile{}, fmt.Errorf("path %q has no partition directory", rel)
	}
	p, err := l.ParsePath(rel[:i])
	if err != nil {
		return ArchiveFile{}, err
	}
	w, seq, err := ParseFileName(rel[i+1:])
	if err != nil {
		return ArchiveFile{}, err
	}
	return ArchiveFile{Partition: p, Writer: w, Seq: seq}, nil
}
