package envref

import (
	"reflect"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRead(t *testing.T) {
	config := []byte(`
a: ${env:WITH_DEFAULT:-127.0.0.1:4317}
b: ${env:EMPTY_DEFAULT:-}
c: ${env:NO_DEFAULT}
d: "${env:MIXED:-x}/${env:MIXED}"
e: $${env:ESCAPED:-1} $$$${env:ESCAPED_TWICE} $$${env:AFTER_ESCAPED_DOLLAR:-1}
f: ${OTHER_SCHEME}
g: "${env:lower_case_ok}"
`)
	refs := Read(config)
	wantOptional := map[string]bool{"WITH_DEFAULT": true, "EMPTY_DEFAULT": true, "AFTER_ESCAPED_DOLLAR": true}
	wantRequired := map[string]bool{"NO_DEFAULT": true, "MIXED": true, "lower_case_ok": true}
	if !reflect.DeepEqual(refs.Optional, wantOptional) {
		t.Errorf("Optional = %v, want %v", refs.Optional, wantOptional)
	}
	if !reflect.DeepEqual(refs.Required, wantRequired) {
		t.Errorf("Required = %v, want %v", refs.Required, wantRequired)
	}
	for _, name := range []string{"OTHER_SCHEME", "ESCAPED", "ESCAPED_TWICE"} {
		if refs.Reads(name) {
			t.Errorf("%s is not a reference but was counted", name)
		}
	}
	want := []string{"AFTER_ESCAPED_DOLLAR", "EMPTY_DEFAULT", "MIXED", "NO_DEFAULT", "WITH_DEFAULT", "lower_case_ok"}
	if got := refs.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}
