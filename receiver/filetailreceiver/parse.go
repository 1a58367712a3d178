package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"bytes"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/lognormalize"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/logfmt"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/severity"
)

// payloadParser turns a record's text into a log record. It owns reusable
// decoders and is used by one goroutine.
type payloadParser struct {
	format   string // payload format: auto, json, logfmt, text or none
	norm     *lognormalize.Normalizer
	logfmt   logfmt.Decoder
	sniffer  *severity.Sniffer
	resource pcommon.Map // scratch for Normalize's resource attributes
	utf8buf  []byte
}

func newPayloadParser(format string) *payloadParser {
	switch format {
	case FormatCRI, FormatDocker:
		format = FormatAuto // the envelope is removed first; its content is detected
	}
	return &payloadParser{format: format, norm: lognormalize.New(), sniffer: severity.NewSniffer(), resource: pcommon.NewMap()}
}

// validUTF8 returns data with invalid sequences replaced by U+FFFD, and
// whether anything was replaced.
func (p *payloadParser) validUTF8(data []byte) ([]byte, bool) {
	if utf8.Valid(data) {
		return data, false
	}
	p.utf8buf = append(p.utf8buf[:0], bytes.ToValidUTF8(data, []byte("\uFFFD"))...)
	return p.utf8buf, true
}

// parse fills lr from data and returns the record's service.name, if the
// payload named one. data must be valid UTF-8.
func (p *payloadParser) parse(data []byte, lr plog.LogRecord) string {
	switch p.format {
	case FormatNone:
		lr.Body().SetStr(string(data))
		return ""
	case FormatJSON:
		return p.json(data, lr)
	case FormatLogfmt:
		p.logfmtOrText(data, lr)
		return ""
	case FormatText:
		p.text(data, lr)
		return ""
	}
	// auto
	if first := firstNonSpace(data); first == '{' {
		return p.json(data, lr)
	}
	if logfmt.LooksLikeLogfmt(data) {
		p.logfmtOrText(data, lr)
		return ""
	}
	p.text(data, lr)
	return ""
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return c
		}
	}
	return 0
}

func (p *payloadParser) json(data []byte, lr plog.LogRecord) string {
	p.resource.Clear()
	if _, err := p.norm.Normalize(data, lr, p.resource); err != nil {
		// Not a JSON object after all: keep the line as text.
		p.text(data, lr)
		return ""
	}
	if v, ok := p.resource.Get(lognormalize.AttrServiceName); ok {
		return v.Str()
	}
	return ""
}

func (p *payloadParser) text(data []byte, lr plog.LogRecord) {
	lr.Body().SetStr(string(data))
	if sev, text, ok := p.sniffer.Sniff(data); ok {
		lr.SetSeverityNumber(sev)
		lr.SetSeverityText(text)
	}
}

// logfmtOrText decodes a logfmt line, lifting msg, level and time into the
// record; a line that is not valid logfmt is kept as text.
func (p *payloadParser) logfmtOrText(data []byte, lr plog.LogRecord) {
	attrs := lr.Attributes()
	// Values alias the decoder's scratch buffer: copy what is kept at once.
	var body, level string
	var haveBody, haveLevel, haveTime bool
	err := p.logfmt.Decode(data, func(key, value []byte) {
		switch string(key) {
		case "msg", "message":
			if !haveBody {
				body, haveBody = string(value), true
				return
			}
		case "level", "lvl", "severity":
			if !haveLevel {
				level, haveLevel = string(value), true
				return
			}
		case "time", "ts", "timestamp":
			if !haveTime {
				if ns, ok := lognormalize.ParseTimestampString(string(value)); ok {
					haveTime = true
					lr.SetTimestamp(pcommon.Timestamp(ns))
					return
				}
			}
		}
		attrs.PutStr(string(key), string(value))
	})
	if err != nil {
		attrs.Clear()
		lr.SetTimestamp(0)
		p.text(data, lr)
		return
	}
	if haveBody {
		lr.Body().SetStr(body)
	} else {
		lr.Body().SetStr(string(data))
	}
	if haveLevel {
		lr.SetSeverityText(level)
		lr.SetSeverityNumber(lognormalize.SeverityFromText(level))
	}
}
