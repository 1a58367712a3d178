package jsonenc

import (
	"encoding/json"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAppendString checks the output against encoding/json's decoder: always valid JSON, the same text
// back for valid UTF-8, U+FFFD for each invalid byte.
func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              "plain",
		"q\"b\\s":            "q\"b\\s",
		"nl\n\r\t\x01":       "nl\n\r\t\x01",
		"bad\xffutf8":        "bad\uFFFDutf8",
		"ünïcødé 日本":         "ünïcødé 日本",
		"trunc\xe6\x97":      "trunc\uFFFD\uFFFD",
		"</script>&<>\u2028": "</script>&<>\u2028",
	} {
		out := AppendString([]byte("prefix:"), in)
		if string(out[:7]) != "prefix:" {
			t.Fatalf("%q: prefix overwritten: %s", in, out)
		}
		var got string
		if err := json.Unmarshal(out[7:], &got); err != nil {
			t.Fatalf("%q -> %s: %v", in, out, err)
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "plain", "q\"\\", "\x00\x1f", "bad\xff", "日本"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := AppendString(nil, in)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> invalid JSON %s: %v", in, out, err)
		}
	})
}
