package lognormalize

import (
	"errors"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestScanRejectsWithPosition(t *testing.T) {
	for doc, want := range map[string]string{
		``:                  "empty document at offset 0",
		`   `:               "empty document at offset 3",
		`{"a":1} x`:         `unexpected data after the document at offset 8 near "x"`,
		`{"a":01}`:          `expected ',' or '}' in an object at offset 6 near "1}"`,
		`{"a":1.}`:          `expected digits after '.' in a number at offset 7 near "}"`,
		`{"a":1e+}`:         `expected digits in a number's exponent at offset 8 near "}"`,
		`{"a":+1}`:          `invalid value at offset 5 near "+1}"`,
		`{"a":-NaN}`:        `invalid number at offset 5 near "-NaN}"`,
		`{"a":tru}`:         `invalid literal at offset 5 near "tru}"`,
		`{"a" 1}`:           `expected ':' after an object key at offset 5 near "1}"`,
		`{"a":1 "b":2}`:     `expected ',' or '}' in an object at offset 7 near "\"b\":2}"`,
		`{a:1}`:             `expected '"' to start an object key at offset 1 near "a:1}"`,
		`{"a":1,}`:          `expected '"' to start an object key at offset 7 near "}"`,
		`[1,]`:              `invalid value at offset 3 near "]"`,
		`[1 2]`:             `expected ',' or ']' in an array at offset 3 near "2]"`,
		`{"a":"x`:           `unterminated string at offset 7`,
		`{"a":"x\"}`:        `unterminated string at offset 10`,
		`{"a":`:             `expected a value at offset 5`,
		`{"a":[`:            `expected a value at offset 6`,
		`{"a":1`:            `expected ',' or '}' in an object at offset 6`,
		`{"a":"` + "x\\":    `unterminated string at offset 8`,
		`{"a":` + deep(600): `nesting deeper than 512 at offset 516 near "[[[[[[[[[[[[[[[[[[[[[[[["`,
	} {
		var tp tape
		err := tp.scan([]byte(doc))
		var se *syntaxError
		if !errors.As(err, &se) {
			t.Errorf("scan(%.40q) = %v, want a syntax error", doc, err)
			continue
		}
		if err.Error() != want {
			t.Errorf("scan(%.40q):\n got %s\nwant %s", doc, err, want)
		}
	}
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// The extensions to RFC 8259, and values that must survive as written.
func TestScanAcceptsLoggerOutput(t *testing.T) {
	doc := "{\"nan\":NaN,\"inf\":Infinity,\"ninf\":-Infinity,\"tab\":\"a\tb\",\"esc\":\"\\q\\u12\",\"deep\":" + deep(500) +
		",\"k\\u00e9y\":\"caf\\u00e9\",\"e\":-1.5E-3,\"z\":-0,\"q\":\"say \\\"hi\\\\\"}"
	lr := plog.NewLogRecord()
	if _, err := New().Normalize([]byte(doc), lr, pcommon.NewMap()); err != nil {
		t.Fatal(err)
	}
	a := lr.Attributes()
	get := func(k string) pcommon.Value {
		v, ok := a.Get(k)
		if !ok {
			t.Fatalf("no %q in %v", k, a.AsRaw())
		}
		return v
	}
	if v := get("nan").Double(); !math.IsNaN(v) {
		t.Errorf("nan = %v", v)
	}
	if get("inf").Double() != math.Inf(1) || get("ninf").Double() != math.Inf(-1) {
		t.Errorf("inf, ninf = %v, %v", get("inf").Double(), get("ninf").Double())
	}
	for k, want := range map[string]string{"tab": "a\tb", "esc": `\q\u12`, "kéy": "café", "q": `say "hi\`} {
		if got := get(k).Str(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if get("e").Double() != -1.5e-3 || get("z").Type() != pcommon.ValueTypeInt || get("z").Int() != 0 {
		t.Errorf("e, z = %v, %v", get("e").AsRaw(), get("z").AsRaw())
	}
	depth := 0
	for v := get("deep"); v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() > 0; v = v.Slice().At(0) {
		depth++
	}
	if depth != 499 { // 500 arrays, the innermost empty
		t.Errorf("nested arrays kept to depth %d, want 499", depth)
	}
}

// A string's flags decide whether it is unescaped and UTF-8 checked: long
// strings take the vectorized path, and an escaped quote must not end them
// wherever it falls.
func TestStringEndAcrossLengths(t *testing.T) {
	for n := 0; n < 40; n++ {
		for _, tail := range []string{``, `\"`, `\\`, `é`, `\\\"`, `\é`, "\\\x88"} {
			content := strings.Repeat("x", n) + tail + strings.Repeat("y", n%5)
			doc := `{"k":"` + content + `","after":1}`
			var tp tape
			if err := tp.scan([]byte(doc)); err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			v := &tp.nodes[1]
			if got := string(tp.doc[v.start:v.end]); got != content {
				t.Fatalf("%q: string content %q", doc, got)
			}
			escaped := strings.Contains(tail, `\`)
			if (v.flags&flagEscaped != 0) != escaped || (v.flags&flagNonASCII != 0) != !isASCII([]byte(tail)) {
				t.Fatalf("%q: flags %04b", doc, v.flags)
			}
			if tp.nodes[0].count != 2 {
				t.Fatalf("%q: %d members", doc, tp.nodes[0].count)
			}
		}
	}
}

// isASCII reports whether b has no byte >= 0x80.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// A huge document's tape is not kept for the next one.
func TestHugeTapeIsLetGo(t *testing.T) {
	var tp tape
	huge := "[" + strings.Repeat("1,", maxRetainedNodes) + "1]"
	if err := tp.scan([]byte(huge)); err != nil {
		t.Fatal(err)
	}
	if len(tp.nodes) != maxRetainedNodes+2 {
		t.Fatalf("%d nodes", len(tp.nodes))
	}
	if err := tp.scan([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if cap(tp.nodes) > maxRetainedNodes {
		t.Errorf("tape of %d nodes kept after a small document", cap(tp.nodes))
	}
}

// Nor are the unescaping buffers a huge escaped value grew.
func TestHugeValueScratchIsLetGo(t *testing.T) {
	n := New()
	doc := `{"k\n":"` + strings.Repeat(`\n`, maxRetainedScratch) + `"}`
	lr := plog.NewLogRecord()
	if _, err := n.Normalize([]byte(doc), lr, pcommon.NewMap()); err != nil {
		t.Fatal(err)
	}
	if v, _ := lr.Attributes().Get("k\n"); len(v.Str()) != maxRetainedScratch {
		t.Fatalf("value of %d bytes", len(v.Str()))
	}
	if cap(n.valueScratch) > maxRetainedScratch {
		t.Errorf("unescaping buffer of %d bytes kept", cap(n.valueScratch))
	}
}
