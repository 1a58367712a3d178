package severity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSniff(t *testing.T) {
	tests := []struct {
		line string
		sev  plog.SeverityNumber
		text string
	}{
		{"2024-05-01 12:00:00,123 INFO [main] com.example.App - started", plog.SeverityNumberInfo, "INFO"},
		{"2024-05-01T12:00:00Z [warn] disk almost full", plog.SeverityNumberWarn, "warn"},
		{"ERROR:root:failed to connect", plog.SeverityNumberError, "ERROR"},
		{"time=2024-05-01 level=debug msg=hello", plog.SeverityNumberDebug, "debug"},
		{"E0501 12:00:00.000000    1 reflector.go:138] watch failed", plog.SeverityNumberError, "E"},
		{"May  1 12:00:00 host sshd[42]: <crit> auth failure", plog.SeverityNumberFatal2, "crit"},
		{"an error occurred while reading", plog.SeverityNumberUnspecified, ""},
		{"GET /index.html 200", plog.SeverityNumberUnspecified, ""},
		{"", plog.SeverityNumberUnspecified, ""},
	}
	s := NewSniffer()
	for _, tt := range tests {
		sev, text, ok := s.Sniff([]byte(tt.line))
		assert.Equal(t, tt.sev, sev, tt.line)
		assert.Equal(t, tt.text, text, tt.line)
		assert.Equal(t, tt.sev != plog.SeverityNumberUnspecified, ok, tt.line)
	}
}

func TestSniffDoesNotAllocate(t *testing.T) {
	s := NewSniffer()
	line := []byte("2024-05-01 12:00:00,123 WARN [main] com.example.App - slow")
	s.Sniff(line)
	allocs := testing.AllocsPerRun(100, func() { s.Sniff(line) })
	assert.Zero(t, allocs)
}

func FuzzSniff(f *testing.F) {
	f.Add("2024-05-01 INFO started")
	f.Add("W0102 x")
	f.Add("[err]")
	f.Fuzz(func(t *testing.T, line string) {
		s := NewSniffer()
		sev, text, ok := s.Sniff([]byte(line))
		if ok != (sev != plog.SeverityNumberUnspecified) || (ok && text == "") {
			t.Fatalf("inconsistent result %v %q %v for %q", sev, text, ok, line)
		}
	})
}
