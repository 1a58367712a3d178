package indexname

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

var ts = pcommon.NewTimestampFromTime(time.Date(2026, 7, 8, 9, 10, 11, 0, time.UTC))

func TestRender(t *testing.T) {
	res := pcommon.NewMap()
	res.PutStr("service.name", "Check Out/API")
	attrs := pcommon.NewMap()
	attrs.PutStr("tenant", "acme")
	attrs.PutStr("service.name", "ignored: resource wins")
	attrs.PutInt("shard", 3)
	tests := []struct{ tmpl, want string }{
		{"logs", "logs"},
		{"logs-{yyyy.MM.dd}", "logs-2026.07.08"},
		{"logs-{yy-MM-dd_HH}", "logs-26-07-08_09"},
		{"logs-{service.name}-{yyyy.MM}", "logs-check_out_api-2026.07"},
		{"t-{tenant}-{shard}", "t-acme-3"},
		{"t-{absent}", "t-unknown"},
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.tmpl, "unknown")
		require.NoError(t, err, tt.tmpl)
		assert.Equal(t, tt.want, string(tmpl.AppendName(nil, res, attrs, ts)), tt.tmpl)
	}
}

func TestPattern(t *testing.T) {
	for tmpl, want := range map[string]string{
		"ss4o_logs-default-{yyyy.MM.dd}": "ss4o_logs-default-*",
		"logs-{service.name}-{yyyy}":     "logs-*",
		"static":                         "static",
	} {
		p, err := Parse(tmpl, "x")
		require.NoError(t, err)
		assert.Equal(t, want, p.Pattern())
	}
}

func TestParseErrors(t *testing.T) {
	for tmpl, want := range map[string]string{
		"":                       "must not be empty",
		"logs-{":                 "unclosed '{' at byte 5",
		"logs-{}":                `invalid placeholder "{}"`,
		"logs-{a b}":             `invalid placeholder "{a b}"`,
		"logs}":                  "unmatched '}'",
		"Logs":                   "character 'L' is not allowed in an index name (use a-z, 0-9, '-', '_', '.', '+')",
		"{service.name}":         "must start with a literal character other than '-', '_', '+' or '.'",
		"_logs":                  "must start with a literal character other than '-', '_', '+' or '.'",
		strings.Repeat("a", 256): "longer than 255 bytes",
	} {
		_, err := Parse(tmpl, "unknown")
		require.Error(t, err, tmpl)
		assert.Equal(t, want, err.Error(), tmpl)
	}
	_, err := Parse("logs", "Bad")
	assert.EqualError(t, err, `missing value "Bad": character 'B' is not allowed in an index name (use a-z, 0-9, '-', '_', '.', '+')`)
}

func TestLongValuesAreBounded(t *testing.T) {
	res := pcommon.NewMap()
	res.PutStr("k", strings.Repeat("v", 1000))
	tmpl, err := Parse("logs-{k}-{k}-{k}-{k}-{k}-{yyyy.MM.dd}", "x")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(tmpl.AppendName(nil, res, pcommon.NewMap(), ts)), MaxNameBytes)
}

// FuzzParse checks that parsing never panics and that whatever parses renders
// a name made only of allowed characters within the length limit.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"logs-{service.name}-{yyyy.MM.dd}", "a{", "a{}}", "x-{yy}{MM}{dd}{HH}", "a-{\xff}", "a{{b}}"} {
		f.Add(s, "attr\x00 VALUE/é")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		p, err := Parse(tmpl, "unknown")
		if err != nil {
			return
		}
		res := pcommon.NewMap()
		for _, part := range p.parts {
			if part.kind == partAttribute {
				res.PutStr(part.text, value)
			}
		}
		name := p.AppendName(nil, res, pcommon.NewMap(), ts)
		if len(name) == 0 || len(name) > MaxNameBytes {
			t.Fatalf("bad length %d", len(name))
		}
		for _, c := range name {
			if !allowed(c) {
				t.Fatalf("character %q in %q", c, name)
			}
		}
	})
}
