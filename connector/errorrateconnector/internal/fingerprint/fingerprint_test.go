package fingerprint

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTemplateRealMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{`user 4211 not found in "accounts" (took 35ms)`, `user <num> not found in <str> (took <num>ms)`},
		{`connection refused: dial tcp 10.0.3.17:5432: connect: connection refused`, `connection refused: dial tcp <ip>: connect: connection refused`},
		{`order 7f3c9a2e-41b8-4c0e-9d55-0a6c1e2b3f44 failed: payment declined`, `order <id> failed: payment declined`},
		{`open /var/lib/app/data/segment-000123.log: no such file or directory`, `open <path>: no such file or directory`},
		{`Get "https://api.example.com/v1/users/42": context deadline exceeded`, `Get <str>: context deadline exceeded`},
		{`upstream https://api.example.com/v1/users/42 timed out after 30s`, `upstream <url> timed out after <num>s`},
		{`panic: runtime error: index out of range [5] with length 3`, `panic: runtime error: index out of range [<num>] with length <num>`},
		{`invalid memory address 0xc000a1b2c3 at pc=0x4a3f21`, `invalid memory address <hex> at pc=<hex>`},
		{`commit deadbeefcafe1234 not found`, `commit <hex> not found`},
		{`request req8f3k2z9q1 rejected by pod checkout-7d9f8c6b5-xk2lp`, `request <id> rejected by pod checkout-<hex>-xk2lp`},
		{`2024-05-01T12:30:01Z job 17 failed`, `<num> job <num> failed`},
		{`value -12.5 out of range`, `value <num> out of range`},
		{`can't parse 'abc' as int`, `can't parse <str> as int`},
		{`  many    spaces	and tabs  `, `many spaces and tabs`},
		{`Duplicate entry 'bob@example.com' for key 'users.email'`, `Duplicate entry <str> for key <str>`},
		{`failed to read C:\Users\bob\config.ini`, `failed to read <path>`},
		{`HTTP 503 from utf8 http2 backend`, `HTTP <num> from utf8 http2 backend`},
		{`timeout in ./cmd/server/main.go.`, `timeout in <path>.`},
		{`unterminated "quote here`, `unterminated "quote here`},
		{`ошибка 42 в модуле`, `ошибка <num> в модуле`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := Template(tt.in); got != tt.want {
			t.Errorf("Template(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestSameLineSameTemplate(t *testing.T) {
	a := Template(`timeout after 1500ms calling inventory for sku 88213 (attempt 3)`)
	b := Template(`timeout after 30ms calling inventory for sku 1 (attempt 1)`)
	if a != b {
		t.Fatalf("templates differ: %q vs %q", a, b)
	}
	c := Template(`timeout after 30ms calling pricing for sku 1 (attempt 1)`)
	if a == c {
		t.Fatalf("different call sites share template %q", a)
	}
}

func TestTemplaterMaxLenCutsOnRuneBoundary(t *testing.T) {
	tp := NewTemplater(5)
	got := tp.Template("abcdé fgh") // é is 2 bytes at offset 4
	if string(got) != "abcd" {
		t.Fatalf("got %q", got)
	}
	if !utf8.Valid(got) {
		t.Fatalf("invalid utf8 %q", got)
	}
}

func TestUnbalancedQuoteStaysLiteral(t *testing.T) {
	msg := `"` + strings.Repeat("a ", 2000)
	got := Template(msg)
	if !strings.HasPrefix(got, `"a a`) {
		t.Fatalf("got %q", got[:20])
	}
}

// A path token ending in the backslash that escapes a quote keeps that
// backslash: the quote stays unpaired in the template as in the message, and
// templating the template changes nothing (found by FuzzTemplate).
func TestEscapingBackslashBeforeQuoteIsKept(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"`\\\\\\`", "`\\\\\\`"},
		{`open "C:\dir\" failed`, `open "<path>\" failed`},
		{`path \\srv\share\" and "x"`, `path <path>\" and <str>`},
		{`even \\srv\\" x"`, `even <path>\\" x"`},
	} {
		got := Template(tt.in)
		if got != tt.want {
			t.Errorf("Template(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := Template(got); again != got {
			t.Errorf("not idempotent: %q → %q → %q", tt.in, got, again)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`user 4211 not found in "accounts" (took 35ms)`,
		`dial tcp 10.0.3.17:5432: connect: connection refused`,
		`order 7f3c9a2e-41b8-4c0e-9d55-0a6c1e2b3f44 failed`,
		`open /var/lib/app/x.log: no such file`,
		`at pc=0x4a3f21 'x' "y" ` + "`z`",
		`it's 'quoted\' still' done`,
		"\xff\xfe invalid utf8 42",
		`C:\x ~/a ../b ./c \\srv\share http://x/y`,
	} {
		f.Add(s)
	}
	tp := NewTemplater(64)
	f.Fuzz(func(t *testing.T, msg string) {
		got := Template(msg)
		if len(got) > 0 && (isSpace(got[0]) || isSpace(got[len(got)-1])) {
			t.Fatalf("template %q has outer whitespace", got)
		}
		if strings.Contains(got, "  ") {
			t.Fatalf("template %q has a double space", got)
		}
		if utf8.ValidString(msg) && !utf8.ValidString(got) {
			t.Fatalf("valid input %q gave invalid template %q", msg, got)
		}
		// Templates are fixed points: templating a template changes nothing.
		if again := Template(got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", msg, got, again)
		}
		bounded := tp.Template(msg)
		if len(bounded) > 64 || !strings.HasPrefix(got, string(bounded)) {
			t.Fatalf("bounded template %q is not a ≤64-byte prefix of %q", bounded, got)
		}
	})
}

func BenchmarkTemplate(b *testing.B) {
	msgs := []string{
		`user 4211 not found in "accounts" (took 35ms)`,
		`connection refused: dial tcp 10.0.3.17:5432: connect: connection refused`,
		`order 7f3c9a2e-41b8-4c0e-9d55-0a6c1e2b3f44 failed: payment declined`,
		`open /var/lib/app/data/segment-000123.log: no such file or directory`,
	}
	tp := NewTemplater(200)
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tp.Template(msgs[i%len(msgs)])
	}
}
