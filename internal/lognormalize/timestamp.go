package lognormalize

import (
	"math"
	"strconv"
	"time"
)

// Epoch magnitude thresholds: a number below epochSecondsMax is seconds (good
// until year 5138), below epochMillisMax milliseconds, below epochMicrosMax
// microseconds, anything larger nanoseconds.
const (
	epochSecondsMax = 1e11
	epochMillisMax  = 1e14
	epochMicrosMax  = 1e17
)

// fallbackLayouts are tried, in order, after the RFC 3339 fast path fails.
var fallbackLayouts = []string{
	time.RFC3339Nano,
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.UnixDate,
	time.ANSIC,
	"02/Jan/2006:15:04:05 -0700",              // Apache/nginx access log
	"2006/01/02 15:04:05.999999999",           // Go log package, nginx error log
	"2006-01-02 15:04:05,999999999",           // log4j/Python logging comma millis
	"2006-01-02T15:04:05.999999999-0700",      // numeric zone without colon
	"2006-01-02 15:04:05.999999999 -0700 MST", // Go time.Time.String
}

// ParseTimestampString parses a textual timestamp: RFC 3339 / ISO 8601 with
// 'T' or space, optional fraction and zone (no zone means UTC), a numeric
// epoch string (unit detected by magnitude), or one of the common layouts
// above. It returns Unix nanoseconds.
func ParseTimestampString(s string) (int64, bool) {
	if ns, ok := parseISO8601(s); ok {
		return ns, true
	}
	if isNumeric(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		return EpochToUnixNano(f)
	}
	for _, layout := range fallbackLayouts {
		if t, err := time.Parse(layout, s); err == nil && inRange(t.Year()) {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// EpochToUnixNano converts a positive epoch number to Unix nanoseconds,
// detecting seconds, milliseconds, microseconds or nanoseconds by magnitude.
func EpochToUnixNano(f float64) (int64, bool) {
	if !(f > 0) || math.IsInf(f, 0) {
		return 0, false
	}
	var ns float64
	switch {
	case f < epochSecondsMax:
		ns = f * 1e9
	case f < epochMillisMax:
		ns = f * 1e6
	case f < epochMicrosMax:
		ns = f * 1e3
	default:
		ns = f
	}
	if ns >= math.MaxInt64 {
		return 0, false
	}
	return int64(math.Round(ns)), true
}

// epochIntToUnixNano is EpochToUnixNano for integers, exact for nanoseconds.
func epochIntToUnixNano(i int64) (int64, bool) {
	switch {
	case i <= 0:
		return 0, false
	case i < epochSecondsMax:
		return i * 1e9, true
	case i < epochMillisMax:
		return i * 1e6, true
	case i < epochMicrosMax:
		return i * 1e3, true
	}
	return i, true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return true
}

// parseISO8601 is an allocation-free parser for
// YYYY-MM-DD[T| ]hh:mm:ss[.fraction][Z|±hh:mm|±hhmm|±hh].
func parseISO8601(s string) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
		s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !inRange(year) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return 0, false
	}
	rest := s[19:]
	nanos := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			nanos += int(rest[i]-'0') * scale // digits past the 9th are ignored
			scale /= 10
			i++
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		var oh, om int
		var ok bool
		switch len(rest) {
		case 3: // ±hh
			oh, ok = digits(rest[1:3])
		case 5: // ±hhmm
			oh, ok = digits(rest[1:3])
			if ok {
				om, ok = digits(rest[3:5])
			}
		case 6: // ±hh:mm
			if rest[3] != ':' {
				return 0, false
			}
			oh, ok = digits(rest[1:3])
			if ok {
				om, ok = digits(rest[4:6])
			}
		}
		if !ok || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	return t.UnixNano() - int64(offset)*int64(time.Second), true
}

// inRange keeps years whose Unix nanoseconds fit a positive int64.
func inRange(year int) bool { return year >= 1970 && year <= 2261 }

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
