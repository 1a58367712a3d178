package logarchive

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultLayoutPathRoundTrip(t *testing.T) {
	l, err := NewLayout(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 1, 12, 34, 56, 789, time.FixedZone("X", 3600))
	p := l.PartitionFor(SignalLogs, "checkout/api=v2", ts)
	if want := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC); !p.Start.Equal(want) {
		t.Fatalf("start = %v, want %v", p.Start, want)
	}
	path := l.Path(p)
	if want := "logs/service=checkout%2Fapi%3Dv2/dt=2026-03-01/hour=11"; path != want {
		t.Fatalf("path = %q, want %q", path, want)
	}
	back, err := l.ParsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Signal != p.Signal || back.Service != p.Service || !back.Start.Equal(p.Start) {
		t.Fatalf("parsed %+v, want %+v", back, p)
	}
	if got := l.End(p); !got.Equal(p.Start.Add(time.Hour)) {
		t.Fatalf("end = %v", got)
	}
	f := ArchiveFile{Partition: p, Writer: "gw-1", Seq: 42}
	rel := l.FilePath(f)
	if !strings.HasSuffix(rel, "/gw-1-00000000000000000042.parquet") {
		t.Fatalf("file path = %q", rel)
	}
	fb, err := l.ParseFilePath(rel)
	if err != nil {
		t.Fatal(err)
	}
	if fb.Writer != "gw-1" || fb.Seq != 42 || fb.Partition.Service != p.Service {
		t.Fatalf("parsed file = %+v", fb)
	}
}

func TestDailyLayoutWithYearMonthDay(t *testing.T) {
	l, err := NewLayout("archive/{signal}/y={year}/m={month}/d={day}/svc={service}")
	if err != nil {
		t.Fatal(err)
	}
	if !l.ByService() {
		t.Fatal("template has {service}")
	}
	if l.Granularity() != 24*time.Hour {
		t.Fatalf("granularity = %v", l.Granularity())
	}
	p := l.PartitionFor(SignalLogs, "", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC))
	path := l.Path(p)
	if want := "archive/logs/y=2026/m=12/d=31/svc=__HIVE_DEFAULT_PARTITION__"; path != want {
		t.Fatalf("path = %q, want %q", path, want)
	}
	back, err := l.ParsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Service != "" || !back.Start.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("parsed %+v", back)
	}
}

func TestNewLayoutErrors(t *testing.T) {
	tests := []struct{ template, want string }{
		{"", "template must not be empty"},
		{"/logs/dt={date}", `template "/logs/dt={date}" must be a relative path without empty segments`},
		{"logs/.x/dt={date}", `template "logs/.x/dt={date}": segment ".x" must not start with '.'`},
		{"logs/{host}/dt={date}", `template "logs/{host}/dt={date}": unknown placeholder {host} (allowed: {signal} {service} {date} {year} {month} {day} {hour})`},
		{"logs/{date}/x={date}", `template "logs/{date}/x={date}": placeholder {date} appears twice`},
		{"logs/{service}{date}", `template "logs/{service}{date}": placeholder {date} must be separated from the previous one by literal text`},
		{"logs/service={service}", `template "logs/service={service}" must contain {date} or all of {year}, {month}, {day}`},
		{"logs/{date}/{year}", `template "logs/{date}/{year}": use either {date} or {year}/{month}/{day}, not both`},
		{"logs/dt={date}/{x", `template "logs/dt={date}/{x": unbalanced or malformed placeholder braces`},
	}
	for _, tt := range tests {
		_, err := NewLayout(tt.template)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewLayout(%q) err = %v, want %s", tt.template, err, tt.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	l, err := NewLayout(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"logs/service=a/dt=2026-02-30/hour=01",
		"logs/service=a/dt=2026-02-01/hour=24",
		"logs/service=a%zz/dt=2026-02-01/hour=01",
		"logs/service=a/dt=2026-02-01",
	} {
		if _, err := l.ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) succeeded", p)
		}
	}
}

func TestEscapeValue(t *testing.T) {
	for _, v := range []string{"plain", "", NullPartitionValue, "a/b=c%d", ".hidden", "..", "日本語", "tab\there", "a:b?c"} {
		e := EscapeValue(v)
		if strings.ContainsAny(e, "/=\t") || strings.HasPrefix(e, ".") {
			t.Errorf("EscapeValue(%q) = %q is not a safe segment", v, e)
		}
		back, err := UnescapeValue(e)
		if err != nil || back != v {
			t.Errorf("UnescapeValue(EscapeValue(%q)) = %q, %v", v, back, err)
		}
	}
}

func TestFileNames(t *testing.T) {
	if got := FileName("w", 7); got != "w-00000000000000000007.parquet" {
		t.Fatalf("FileName = %q", got)
	}
	for _, bad := range []string{".w-00000000000000000007.parquet", "w-7.parquet", "w-00000000000000000007.csv", "-00000000000000000007.parquet", "w-0000000000000000000x.parquet"} {
		if _, _, err := ParseFileName(bad); err == nil {
			t.Errorf("ParseFileName(%q) succeeded", bad)
		}
	}
	if !IsTemporary("a/b/.x.parquet.tmp") || IsTemporary("a/.b/x.parquet") {
		t.Fatal("IsTemporary looks at the last element only")
	}
	if err := ValidateWriterID("collector-01.eu"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateWriterID(".x"); err == nil {
		t.Fatal("writer id starting with '.' accepted")
	}
}

func TestLayoutWithoutService(t *testing.T) {
	l, err := NewLayout("{signal}/dt={date}")
	if err != nil {
		t.Fatal(err)
	}
	p := l.PartitionFor(SignalLogs, "api", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if l.ByService() || p.Service != "" || l.Path(p) != "logs/dt=2026-01-02" {
		t.Fatalf("partition %+v path %q", p, l.Path(p))
	}
}

// A service.name longer than a path segment may be must still give a
// creatable partition path, distinct per value, that parses back and matches
// the full value.
func TestLongServiceNameBoundedSegment(t *testing.T) {
	l, err := NewLayout(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	longA := strings.Repeat("s", 300) + "a"
	longB := strings.Repeat("s", 300) + "b"
	escaped := strings.Repeat("/", 200) // every byte escapes to %2F
	for _, svc := range []string{longA, longB, escaped, strings.Repeat("é", 200)} {
		p := l.PartitionFor(SignalLogs, svc, ts)
		path := l.Path(p)
		seg := strings.TrimPrefix(strings.Split(path, "/")[1], "service=")
		if len(seg) > MaxEscapedValueLen {
			t.Fatalf("segment of %d bytes for a %d-byte value", len(seg), len(svc))
		}
		back, err := l.ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		if back.ServiceDigest == "" || !strings.HasPrefix(svc, back.Service) || !back.MatchesService(svc) {
			t.Fatalf("parsed %+v does not match the %d-byte value", back, len(svc))
		}
		if again := l.Path(back); again != path {
			t.Fatalf("rebuilt path %q != %q", again, path)
		}
		if seg != EscapeValue(svc) {
			t.Fatalf("path segment %q != EscapeValue %q", seg, EscapeValue(svc))
		}
	}
	pa, pb := l.Path(l.PartitionFor(SignalLogs, longA, ts)), l.Path(l.PartitionFor(SignalLogs, longB, ts))
	if pa == pb {
		t.Fatal("two long values sharing a prefix map to one partition")
	}
	back, _ := l.ParsePath(pa)
	if back.MatchesService(longB) || back.MatchesService(back.Service) {
		t.Fatal("bounded partition matches another value")
	}
	// Values that fit are unchanged.
	if got := EscapeValue(strings.Repeat("s", MaxEscapedValueLen)); got != strings.Repeat("s", MaxEscapedValueLen) {
		t.Fatalf("value of exactly the bound changed: %q", got)
	}
}
