package logarchive

import (
	"strings"
	"testing"
)

func FuzzParsePath(f *testing.F) {
	l, err := NewLayout(DefaultTemplate)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("logs/service=api/dt=2026-01-02/hour=03")
	f.Add("logs/service=a%2Fb/dt=2026-01-02/hour=23")
	f.Add("logs/service=__HIVE_DEFAULT_PARTITION__/dt=2026-01-02/hour=00")
	f.Add("logs/service=%/dt=2026-99-02/hour=99")
	f.Add("logs/service=abc%7E0123456789abcdef/dt=2026-01-02/hour=03")
	f.Fuzz(func(t *testing.T, path string) {
		p, err := l.ParsePath(path)
		if err != nil {
			return
		}
		// Anything that parses must rebuild to a path that parses to the same partition.
		again, err := l.ParsePath(l.Path(p))
		if err != nil {
			t.Fatalf("rebuilt path of %q does not parse: %v", path, err)
		}
		// A segment longer than the bound (written before segments were
		// bounded) rebuilds as a bounded one that still matches its value.
		sameService := again.Service == p.Service && again.ServiceDigest == p.ServiceDigest ||
			p.ServiceDigest == "" && again.ServiceDigest != "" && again.MatchesService(p.Service)
		if !sameService || !again.Start.Equal(p.Start) || again.Signal != p.Signal {
			t.Fatalf("round trip of %q: %+v != %+v", path, again, p)
		}
	})
}

func FuzzEscapeValue(f *testing.F) {
	f.Add("checkout")
	f.Add("a/b=c%d")
	f.Add(".x")
	f.Add("%41")
	f.Add(strings.Repeat("é/", 80))
	f.Add("__HIVE_DEFAULT_PARTITION__" + strings.Repeat("/", 40))
	f.Fuzz(func(t *testing.T, v string) {
		esc := EscapeValue(v)
		if len(esc) > MaxEscapedValueLen {
			t.Fatalf("EscapeValue(%q) is %d bytes, longer than %d", v, len(esc), MaxEscapedValueLen)
		}
		if prefix, digest := splitBounded(esc); digest != "" {
			svc, err := UnescapeValue(prefix)
			if err != nil || !(Partition{Service: svc, ServiceDigest: digest}).MatchesService(v) {
				t.Fatalf("bounded %q of %q does not match it: %v", esc, v, err)
			}
		} else if back, err := UnescapeValue(esc); err != nil || back != v {
			t.Fatalf("round trip of %q = %q, %v", v, back, err)
		}
		_, _ = UnescapeValue(v) // must not panic on arbitrary input
	})
}

func FuzzParseFileName(f *testing.F) {
	f.Add("gw-1-00000000000000000042.parquet")
	f.Add(".gw-1-00000000000000000042.parquet")
	f.Add("x-99999999999999999999.parquet")
	f.Fuzz(func(t *testing.T, name string) {
		w, seq, err := ParseFileName(name)
		if err != nil {
			return
		}
		if got := FileName(w, seq); got != name {
			t.Fatalf("FileName(ParseFileName(%q)) = %q", name, got)
		}
	})
}
