package lognormalize

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func normalize(t testing.TB, doc string) (plog.LogRecord, pcommon.Map, Result) {
	t.Helper()
	lr := plog.NewLogRecord()
	res := pcommon.NewMap()
	r, err := New().Normalize([]byte(doc), lr, res)
	if err != nil {
		t.Fatalf("Normalize(%s): %v", doc, err)
	}
	return lr, res, r
}

func ts(s string) pcommon.Timestamp {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return pcommon.NewTimestampFromTime(t)
}

func TestNormalizeFields(t *testing.T) {
	traceHex := "0af7651916cd43dd8448eb211c80319c"
	spanHex := "b7ad6b7169203331"
	var traceID pcommon.TraceID
	copy(traceID[:], []byte{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c})
	spanID := pcommon.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}

	tests := []struct {
		name      string
		doc       string
		timestamp pcommon.Timestamp
		sevText   string
		sevNum    plog.SeverityNumber
		body      any
		traceID   pcommon.TraceID
		spanID    pcommon.SpanID
		service   string
		attrs     map[string]any
	}{
		{
			name:      "ecs filebeat document",
			doc:       `{"@timestamp":"2024-05-01T10:20:30.123Z","log":{"level":"warn","logger":"db"},"message":"slow query","service":{"name":"checkout","version":"1.2"},"trace":{"id":"` + traceHex + `"},"span":{"id":"` + spanHex + `"},"host":{"name":"web-1"}}`,
			timestamp: ts("2024-05-01T10:20:30.123Z"),
			sevText:   "warn", sevNum: plog.SeverityNumberWarn,
			body:    "slow query",
			traceID: traceID, spanID: spanID,
			service: "checkout",
			attrs: map[string]any{
				"log":     map[string]any{"logger": "db"},
				"service": map[string]any{"version": "1.2"},
				"host":    map[string]any{"name": "web-1"},
			},
		},
		{
			name:      "logrus/zap style with epoch seconds float",
			doc:       `{"ts":1714558830.5,"level":"ERROR","msg":"boom","trace_id":"` + traceHex + `","span_id":"` + spanHex + `","service.name":"api","user_id":42,"ok":false,"ratio":0.25,"tags":["a",1,null]}`,
			timestamp: ts("2024-05-01T10:20:30.5Z"),
			sevText:   "ERROR", sevNum: plog.SeverityNumberError,
			body:    "boom",
			traceID: traceID, spanID: spanID,
			service: "api",
			attrs:   map[string]any{"user_id": int64(42), "ok": false, "ratio": 0.25, "tags": []any{"a", int64(1), nil}},
		},
		{
			name:      "pino numeric level and epoch millis",
			doc:       `{"level":30,"time":1714558830123,"pid":7,"hostname":"h","msg":"hello","app":"shop"}`,
			timestamp: ts("2024-05-01T10:20:30.123Z"),
			sevText:   "30", sevNum: plog.SeverityNumberInfo,
			body:    "hello",
			service: "shop",
			attrs:   map[string]any{"pid": int64(7), "hostname": "h"},
		},
		{
			name:      "docker json-file line",
			doc:       `{"log":"GET / 200\n","stream":"stdout","time":"2024-05-01T10:20:30.123456789Z"}`,
			timestamp: ts("2024-05-01T10:20:30.123456789Z"),
			body:      "GET / 200\n",
			attrs:     map[string]any{"stream": "stdout"},
		},
		{
			name:      "priority: @timestamp beats time, message beats msg; losers stay attributes",
			doc:       `{"time":"2020-01-01T00:00:00Z","@timestamp":"2024-05-01T10:20:30+02:00","msg":"short","message":"long"}`,
			timestamp: ts("2024-05-01T08:20:30Z"),
			body:      "long",
			attrs:     map[string]any{"time": "2020-01-01T00:00:00Z", "msg": "short"},
		},
		{
			name:  "unparsable values stay attributes",
			doc:   `{"timestamp":"yesterday","trace_id":"xyz","span_id":"0000000000000000","level":{"x":1},"service":""}`,
			attrs: map[string]any{"timestamp": "yesterday", "trace_id": "xyz", "span_id": "0000000000000000", "level": map[string]any{"x": int64(1)}, "service": ""},
		},
		{
			name:      "unparsable higher rank falls back to next spelling",
			doc:       `{"@timestamp":"not a time","ts":"1714558830"}`,
			timestamp: ts("2024-05-01T10:20:30Z"),
			attrs:     map[string]any{"@timestamp": "not a time"},
		},
		{
			name:    "correlation ids renamed",
			doc:     `{"requestId":"r-1","correlation_id":"c-9","x-request-id":"other"}`,
			attrs:   map[string]any{"request.id": "r-1", "correlation.id": "c-9", "x-request-id": "other"},
			sevNum:  plog.SeverityNumberUnspecified,
			service: "",
		},
		{
			name:  "literal request.id outranks other spellings",
			doc:   `{"request_id":"a","request.id":"b"}`,
			attrs: map[string]any{"request.id": "b", "request_id": "a"},
		},
		{
			name:    "structured message body and 64-bit trace id",
			doc:     `{"message":{"event":"login","user":"bob"},"traceId":"8448eb211c80319c","severity":"notice"}`,
			body:    map[string]any{"event": "login", "user": "bob"},
			traceID: pcommon.TraceID{8: 0x84, 9: 0x48, 10: 0xeb, 11: 0x21, 12: 0x1c, 13: 0x80, 14: 0x31, 15: 0x9c},
			sevText: "notice", sevNum: plog.SeverityNumberInfo2,
		},
		{
			name:  "big and odd numbers",
			doc:   `{"big":18446744073709551616,"neg":-5,"exp":1e3,"null":null}`,
			attrs: map[string]any{"big": 1.8446744073709552e19, "neg": int64(-5), "exp": 1000.0, "null": nil},
		},
		{
			name:    "invalid utf-8 is replaced",
			doc:     "{\"message\":\"a\xffb\",\"k\xfe\":1}",
			body:    "a\uFFFDb",
			attrs:   map[string]any{"k\uFFFD": int64(1)},
			sevText: "",
		},
		{
			name:      "syslog numeric severity string, space-separated timestamp without zone",
			doc:       `{"severity":"3","timestamp":"2024-05-01 10:20:30.5"}`,
			timestamp: ts("2024-05-01T10:20:30.5Z"),
			sevText:   "3", sevNum: plog.SeverityNumberError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr, res, _ := normalize(t, tt.doc)
			if lr.Timestamp() != tt.timestamp {
				t.Errorf("timestamp = %v, want %v", lr.Timestamp(), tt.timestamp)
			}
			if lr.SeverityText() != tt.sevText || lr.SeverityNumber() != tt.sevNum {
				t.Errorf("severity = %q/%v, want %q/%v", lr.SeverityText(), lr.SeverityNumber(), tt.sevText, tt.sevNum)
			}
			if got := lr.Body().AsRaw(); !equalRaw(got, tt.body) {
				t.Errorf("body = %#v, want %#v", got, tt.body)
			}
			if lr.TraceID() != tt.traceID || lr.SpanID() != tt.spanID {
				t.Errorf("ids = %v/%v, want %v/%v", lr.TraceID(), lr.SpanID(), tt.traceID, tt.spanID)
			}
			svc, _ := res.Get(AttrServiceName)
			if svc.Str() != tt.service {
				t.Errorf("service.name = %q, want %q", svc.Str(), tt.service)
			}
			want := tt.attrs
			if want == nil {
				want = map[string]any{}
			}
			if got := lr.Attributes().AsRaw(); !equalRaw(got, want) {
				t.Errorf("attributes = %#v\nwant %#v", got, want)
			}
		})
	}
}

func equalRaw(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestNormalizeErrors(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"a":1} x`, `[1,2]`, `"text"`, `plain text line`} {
		lr := plog.NewLogRecord()
		res := pcommon.NewMap()
		_, err := New().Normalize([]byte(doc), lr, res)
		if err == nil {
			t.Errorf("Normalize(%q): expected error", doc)
		}
		if lr.Attributes().Len() != 0 || res.Len() != 0 {
			t.Errorf("Normalize(%q) wrote output despite error", doc)
		}
	}
	_, err := New().Normalize([]byte(`[1]`), plog.NewLogRecord(), pcommon.NewMap())
	if !errors.Is(err, ErrNotObject) {
		t.Errorf("array: err = %v, want ErrNotObject", err)
	}
}

func TestNormalizerReuse(t *testing.T) {
	n := New()
	docs := []string{
		`{"@timestamp":"2024-05-01T10:20:30Z","message":"one","level":"info","a":1}`,
		`{"message":"two","b":2}`,
	}
	var got []plog.LogRecord
	for _, d := range docs {
		lr := plog.NewLogRecord()
		if _, err := n.Normalize([]byte(d), lr, pcommon.NewMap()); err != nil {
			t.Fatal(err)
		}
		got = append(got, lr)
	}
	// The second document must not inherit the first one's fields.
	if got[1].Timestamp() != 0 || got[1].SeverityText() != "" || got[1].Body().Str() != "two" {
		t.Errorf("state leaked between documents: %v %q %q", got[1].Timestamp(), got[1].SeverityText(), got[1].Body().Str())
	}
	if got[0].Body().Str() != "one" {
		t.Errorf("first record changed after reuse: %q", got[0].Body().Str())
	}
}

// String values are cut from shared blocks (one allocation per block): the
// values of earlier records must stay intact while later documents fill the
// block and the next ones, and invalid UTF-8 and long values still come out
// right.
func TestValuesSurviveLaterDocuments(t *testing.T) {
	long := strings.Repeat("x", maxChunkedValue+1)
	docs := appLogDocs(3000)
	docs = append(docs, []byte(`{"msg":"`+long+`","k":"caf\u00e9","bad":"a`+"\xff"+`b"}`), []byte("{\"bad\":\"a\xffb\",\"u\":\"\xe2\x82\"}"))
	n := New()
	var got []plog.LogRecord
	for _, d := range docs {
		lr := plog.NewLogRecord()
		if _, err := n.Normalize(d, lr, pcommon.NewMap()); err != nil {
			t.Fatalf("Normalize(%s): %v", d, err)
		}
		got = append(got, lr)
	}
	for i, d := range docs {
		want, _, _ := normalize(t, string(d)) // a fresh Normalizer each
		if !reflect.DeepEqual(want.Attributes().AsRaw(), got[i].Attributes().AsRaw()) || want.Body().AsString() != got[i].Body().AsString() {
			t.Fatalf("record %d changed after later documents:\n got %v %q\nwant %v %q", i,
				got[i].Attributes().AsRaw(), got[i].Body().AsString(), want.Attributes().AsRaw(), want.Body().AsString())
		}
		got[i].Attributes().Range(func(k string, v pcommon.Value) bool {
			if !utf8.ValidString(k) || !utf8.ValidString(v.AsString()) {
				t.Errorf("record %d: invalid UTF-8 in %q=%q", i, k, v.AsString())
			}
			return true
		})
	}
	if got[len(got)-2].Body().Str() != long {
		t.Errorf("long value changed")
	}
}

func TestResultFlags(t *testing.T) {
	_, _, r := normalize(t, `{"message":"x","service":"s"}`)
	if r.HasTimestamp || r.HasSeverity || !r.HasBody || !r.HasService {
		t.Errorf("result = %+v", r)
	}
}

func TestTimestampFormats(t *testing.T) {
	want := ts("2024-05-01T10:20:30Z").AsTime().UnixNano()
	for _, s := range []string{
		"2024-05-01T10:20:30Z",
		"2024-05-01T12:20:30+02:00",
		"2024-05-01T12:20:30+0200",
		"2024-05-01T12:20:30+02",
		"2024-05-01 10:20:30",
		"2024-05-01t10:20:30z",
		"1714558830",
		"1714558830000",
		"1714558830000000",
		"1714558830000000000",
		"Wed, 01 May 2024 10:20:30 +0000",
		"Wed, 01 May 2024 10:20:30 UTC",
		"01/May/2024:12:20:30 +0200",
		"2024/05/01 10:20:30",
		"2024-05-01 10:20:30,000",
		"Wed May  1 10:20:30 2024",
	} {
		got, ok := ParseTimestampString(s)
		if !ok || got != want {
			t.Errorf("ParseTimestampString(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T10:20:30+25:00", "0", "-5", "abc", "2024-05-01T10:20:30.Z", "9999-01-01T00:00:00Z"} {
		if got, ok := ParseTimestampString(s); ok {
			t.Errorf("ParseTimestampString(%q) = %d, want failure", s, got)
		}
	}
}

func TestEpochUnits(t *testing.T) {
	base := int64(1714558830)
	for _, tc := range []struct {
		in   int64
		want int64
	}{
		{base, base * 1e9},
		{base * 1e3, base * 1e9},
		{base*1e6 + 7, base*1e9 + 7000},
		{base*1e9 + 7, base*1e9 + 7},
	} {
		got, ok := epochIntToUnixNano(tc.in)
		if !ok || got != tc.want {
			t.Errorf("epochIntToUnixNano(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSeverityMapping(t *testing.T) {
	for in, want := range map[string]plog.SeverityNumber{
		"TRACE": plog.SeverityNumberTrace, " debug ": plog.SeverityNumberDebug, "Info": plog.SeverityNumberInfo,
		"WARNING": plog.SeverityNumberWarn, "err": plog.SeverityNumberError, "crit": plog.SeverityNumberFatal2,
		"alert": plog.SeverityNumberFatal3, "emerg": plog.SeverityNumberFatal4, "fatal": plog.SeverityNumberFatal,
		"50": plog.SeverityNumberError, "7": plog.SeverityNumberDebug, "bogus": plog.SeverityNumberUnspecified,
		"99": plog.SeverityNumberUnspecified, "a-very-long-level-name": plog.SeverityNumberUnspecified,
	} {
		if got := SeverityFromText(in); got != want {
			t.Errorf("SeverityFromText(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzNormalize checks that any input yields a record or an error, never a
// panic; that valid JSON objects are accepted; and that output strings are UTF-8.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2024-05-01T10:20:30.123Z","log":{"level":"warn"},"message":"m","service":{"name":"s"}}`,
		`{"ts":1714558830.5,"level":30,"msg":"x","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`,
		`{"time":"2024-05-01 10:20:30,5","a":{"b":[1,{"c":null}]},"requestId":7}`,
		`{"log":"line\n","stream":"stderr"}`,
		`[1]`, `{"a":`, "{\"\xff\":\"\xfe\"}", `{"n":-0.0e-5,"big":123456789012345678901234567890}`,
	} {
		f.Add([]byte(s))
	}
	n := New()
	f.Fuzz(func(t *testing.T, doc []byte) {
		lr := plog.NewLogRecord()
		res := pcommon.NewMap()
		_, err := n.Normalize(doc, lr, res)
		var obj map[string]json.RawMessage
		if err != nil {
			if json.Unmarshal(doc, &obj) == nil && utf8.Valid(doc) && len(doc) < 1000 {
				t.Fatalf("valid JSON object rejected: %v", err)
			}
			return
		}
		checkUTF8(t, lr.Body())
		lr.Attributes().Range(func(k string, v pcommon.Value) bool {
			if !utf8.ValidString(k) {
				t.Fatalf("invalid UTF-8 key %q", k)
			}
			checkUTF8(t, v)
			return true
		})
	})
}

func checkUTF8(t *testing.T, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if !utf8.ValidString(v.Str()) {
			t.Fatalf("invalid UTF-8 value %q", v.Str())
		}
	case pcommon.ValueTypeMap:
		v.Map().Range(func(k string, cv pcommon.Value) bool {
			if !utf8.ValidString(k) {
				t.Fatalf("invalid UTF-8 key %q", k)
			}
			checkUTF8(t, cv)
			return true
		})
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			checkUTF8(t, v.Slice().At(i))
		}
	}
}

func TestRenameDoesNotOverwrite(t *testing.T) {
	lr, _, _ := normalize(t, `{"request.id":{"nested":true},"req_id":"r"}`)
	want := map[string]any{"request.id": map[string]any{"nested": true}, "req_id": "r"}
	if got := lr.Attributes().AsRaw(); !equalRaw(got, want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
}

func TestSyslogNGAndJournaldKeys(t *testing.T) {
	lr, _, _ := normalize(t, `{"MESSAGE":"started","PRIORITY":"6","_PID":"1"}`)
	if lr.Body().Str() != "started" || lr.SeverityNumber() != plog.SeverityNumberInfo {
		t.Errorf("got body %q severity %v", lr.Body().Str(), lr.SeverityNumber())
	}
	lr, _, _ = normalize(t, `{"message":"lower wins","MESSAGE":"upper"}`)
	if lr.Body().Str() != "lower wins" {
		t.Errorf("body = %q", lr.Body().Str())
	}
}
