package lognormalize

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
)

// SeverityFromText maps a level name (case-insensitive, surrounding spaces
// ignored) to an OpenTelemetry severity number; syslog names follow the
// collector's syslog mapping (notice→INFO2, crit→FATAL2, alert→FATAL3,
// emerg→FATAL4). A numeric string is read as SeverityFromNumber.
func SeverityFromText(s string) plog.SeverityNumber {
	s = strings.TrimSpace(s)
	if len(s) > 16 || s == "" {
		return plog.SeverityNumberUnspecified
	}
	if isNumeric(s) && !strings.Contains(s, ".") {
		n, _ := digits(s)
		return SeverityFromNumber(int64(n))
	}
	var buf [16]byte
	lower := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "trace", "trc", "finest", "verbose":
		return plog.SeverityNumberTrace
	case "debug", "dbg", "fine", "finer", "config":
		return plog.SeverityNumberDebug
	case "info", "inf", "information", "informational":
		return plog.SeverityNumberInfo
	case "notice":
		return plog.SeverityNumberInfo2
	case "warn", "warning", "wrn":
		return plog.SeverityNumberWarn
	case "error", "err", "eror", "severe":
		return plog.SeverityNumberError
	case "crit", "critical":
		return plog.SeverityNumberFatal2
	case "alert":
		return plog.SeverityNumberFatal3
	case "emerg", "emergency":
		return plog.SeverityNumberFatal4
	case "fatal", "panic", "dpanic", "ftl":
		return plog.SeverityNumberFatal
	}
	return plog.SeverityNumberUnspecified
}

// SeverityFromNumber maps a numeric level: syslog severities 0–7
// (0 emerg … 7 debug) and pino/bunyan levels 10, 20, …, 60.
func SeverityFromNumber(n int64) plog.SeverityNumber {
	switch n {
	case 0:
		return plog.SeverityNumberFatal4
	case 1:
		return plog.SeverityNumberFatal3
	case 2:
		return plog.SeverityNumberFatal2
	case 3:
		return plog.SeverityNumberError
	case 4:
		return plog.SeverityNumberWarn
	case 5:
		return plog.SeverityNumberInfo2
	case 6:
		return plog.SeverityNumberInfo
	case 7:
		return plog.SeverityNumberDebug
	case 10:
		return plog.SeverityNumberTrace
	case 20:
		return plog.SeverityNumberDebug
	case 30:
		return plog.SeverityNumberInfo
	case 40:
		return plog.SeverityNumberWarn
	case 50:
		return plog.SeverityNumberError
	case 60:
		return plog.SeverityNumberFatal
	}
	return plog.SeverityNumberUnspecified
}
