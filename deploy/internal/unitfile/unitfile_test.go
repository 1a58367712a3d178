package unitfile

import (
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	unit, err := Parse([]byte(`# comment
[Unit]
Description=Sluice
; another comment
After=network-online.target

[Service]
ExecStart=/usr/local/bin/sluice \
    --config /etc/sluice/agent.yaml
Environment=A=1
Environment=B=2
Restart = on-failure
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := unit.Get("Service", "ExecStart"); got != "/usr/local/bin/sluice --config /etc/sluice/agent.yaml" {
		t.Errorf("continued ExecStart = %q", got)
	}
	if got := unit["Service"]["Environment"]; !reflect.DeepEqual(got, []string{"A=1", "B=2"}) {
		t.Errorf("repeated key = %v", got)
	}
	if got, _ := unit.Get("Service", "Restart"); got != "on-failure" {
		t.Errorf("spaces around = not trimmed: %q", got)
	}
	if _, ok := unit.Get("Install", "WantedBy"); ok {
		t.Error("Get of a missing section reported a value")
	}
}

func TestParseRejects(t *testing.T) {
	for name, text := range map[string]string{
		"key outside a section": "Description=x\n[Unit]\n",
		"line without =":        "[Unit]\nDescription\n",
		"empty key":             "[Unit]\n=x\n",
		"bad section header":    "[Unit\nDescription=x\n",
		"dangling continuation": "[Service]\nExecStart=/bin/x \\\n",
	} {
		if _, err := Parse([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("%s: error %q does not name the line", name, err)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	env, err := ParseEnvFile([]byte("# c\nA=1\nB=\"two words\"\nC='x'\n; c\nD=\nA=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "3", "B": "two words", "C": "x", "D": ""}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
	for _, bad := range []string{"no equals\n", "1A=x\n", "A-B=x\n"} {
		if _, err := ParseEnvFile([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
