package logarchive

import (
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
		if again.Service != p.Service || !again.Start.Equal(p.Start) || again.Signal != p.Signal {
			t.Fatalf("round trip of %q: %+v != %+v", path, again, p)
		}
	})
}

func FuzzEscapeValue(f *testing.F) {
	f.Add("checkout")
	f.Add("a/b=c%d")
	f.Add(".x")
	f.Add("%41")
	f.Fuzz(func(t *testing.T, v string) {
		back, err := UnescapeValue(EscapeValue(v))
		if err != nil || back != v {
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
