// Package severity finds the level of a plain-text log line ("INFO",
// "[warn]", "level=error", klog's "E0501 …") without parsing the line.
package severity // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/severity"

import (
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/lognormalize"
)

// scanLimit is how far into a line a level is looked for: levels sit after a
// timestamp and maybe a thread or logger name, never deep in the message.
const scanLimit = 96

// Sniffer finds levels; it interns the level texts it returns so a record's
// SeverityText does not allocate. Not safe for concurrent use.
type Sniffer struct{ texts map[string]string }

// NewSniffer returns a Sniffer.
func NewSniffer() *Sniffer { return &Sniffer{texts: make(map[string]string)} }

// Sniff returns the severity of line and the level text as written; ok is
// false when no level was found.
//
// A word counts as a level when it is all upper case (INFO, WARN, ERROR), or
// in any case when bracketed ("[info]", "<warn>") or after "level=" /
// "severity=". Lower-case words in running text ("an error occurred") do not.
func (s *Sniffer) Sniff(line []byte) (plog.SeverityNumber, string, bool) {
	if len(line) > scanLimit {
		line = line[:scanLimit]
	}
	if sev, text, ok := s.klog(line); ok {
		return sev, text, true
	}
	for i := 0; i < len(line); {
		if !isLetter(line[i]) {
			i++
			continue
		}
		j := i
		upper := true
		for j < len(line) && isLetter(line[j]) {
			upper = upper && line[j] >= 'A' && line[j] <= 'Z'
			j++
		}
		word := line[i:j]
		if len(word) >= 3 && len(word) <= 13 && (upper || bracketed(line, i, j) || afterLevelKey(line, i)) {
			if sev := lognormalize.SeverityFromText(string(word)); sev != plog.SeverityNumberUnspecified {
				return sev, s.intern(word), true
			}
		}
		i = j
	}
	return plog.SeverityNumberUnspecified, "", false
}

// klog recognizes "I0501 12:00:00.000000 …" (glog/klog header).
func (s *Sniffer) klog(line []byte) (plog.SeverityNumber, string, bool) {
	if len(line) < 6 || line[5] != ' ' {
		return 0, "", false
	}
	for _, c := range line[1:5] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	switch line[0] {
	case 'I':
		return plog.SeverityNumberInfo, "I", true
	case 'W':
		return plog.SeverityNumberWarn, "W", true
	case 'E':
		return plog.SeverityNumberError, "E", true
	case 'F':
		return plog.SeverityNumberFatal, "F", true
	}
	return 0, "", false
}

func (s *Sniffer) intern(word []byte) string {
	if t, ok := s.texts[string(word)]; ok {
		return t
	}
	t := string(word)
	s.texts[t] = t // bounded: only words SeverityFromText knows get here
	return t
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func bracketed(line []byte, i, j int) bool {
	if i == 0 || j >= len(line) {
		return false
	}
	o, c := line[i-1], line[j]
	return (o == '[' && c == ']') || (o == '<' && c == '>') || (o == '(' && c == ')')
}

func afterLevelKey(line []byte, i int) bool {
	for _, key := range [...]string{"level=", "lvl=", "severity=", "level: ", "\"level\":\""} {
		if i >= len(key) && string(line[i-len(key):i]) == key {
			return true
		}
	}
	return false
}
