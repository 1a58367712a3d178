package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMultisetDenseAndSparseIDs(t *testing.T) {
	m := NewMultiset("run-")
	m.Add("run-0")
	m.Add("run-5")
	m.Add("run-5")
	m.AddSeq(10, 3)
	m.Add("run-007") // not canonical: must not alias run-7
	m.Add("other-1")
	m.AddBytes([]byte("run-11"))
	cases := map[string]uint32{"run-0": 1, "run-5": 2, "run-7": 0, "run-007": 1, "run-10": 1, "run-11": 2, "run-12": 1, "run-13": 0, "other-1": 1, "run-": 0}
	for id, want := range cases {
		if got := m.Count(id); got != want {
			t.Errorf("Count(%q) = %d, want %d", id, got, want)
		}
	}
	if m.Total() != 9 || m.Distinct() != 7 {
		t.Fatalf("total %d distinct %d, want 9 and 7", m.Total(), m.Distinct())
	}
	var order []string
	m.Each(func(id string, _ uint32) { order = append(order, id) })
	if got := strings.Join(order, ","); got != "run-0,run-5,run-10,run-11,run-12,other-1,run-007" {
		t.Fatalf("Each order = %s", got)
	}
}

func TestAccount(t *testing.T) {
	sent := NewMultiset("r-")
	sent.AddSeq(0, 10)
	tests := []struct {
		name    string
		out     func() Outcome
		wantErr string // empty: accounted
		allow   bool
	}{
		{"all delivered once", func() Outcome {
			d := NewMultiset("r-")
			d.AddSeq(0, 10)
			return Outcome{Delivered: d}
		}, "", false},
		{"lost and duplicated", func() Outcome {
			d := NewMultiset("r-")
			d.AddSeq(0, 8)
			d.Add("r-3")
			return Outcome{Delivered: d}
		}, "2 lost (e.g. r-8, r-9); 1 duplicates (e.g. r-3×2)", false},
		{"duplicates allowed", func() Outcome {
			d := NewMultiset("r-")
			d.AddSeq(0, 10)
			d.Add("r-3")
			return Outcome{Delivered: d}
		}, "", true},
		{"sampled out by id and dead-lettered by count", func() Outcome {
			d, s := NewMultiset("r-"), NewMultiset("r-")
			d.AddSeq(0, 6)
			s.AddSeq(6, 2)
			return Outcome{Delivered: d, SampledOut: s, DeadLetteredReported: 2}
		}, "", false},
		{"pipeline reports more drops than are missing", func() Outcome {
			d := NewMultiset("r-")
			d.AddSeq(0, 9)
			return Outcome{Delivered: d, SampledOutReported: 3}
		}, "pipeline reports 3 sampled out/dead-lettered without ids but only 1 ids are missing", false},
		{"delivered and also dead-lettered", func() Outcome {
			d, x := NewMultiset("r-"), NewMultiset("r-")
			d.AddSeq(0, 10)
			x.Add("r-1")
			return Outcome{Delivered: d, DeadLettered: x}
		}, "1 duplicates (e.g. r-1×2)", false},
		{"unexpected ids", func() Outcome {
			d := NewMultiset("r-")
			d.AddSeq(0, 11)
			return Outcome{Delivered: d}
		}, "1 records with ids never sent (e.g. r-10)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Account(sent, tt.out()).Err(tt.allow)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// writeExport writes what the file exporter writes: one OTLP JSON request per line.
func writeExport(t *testing.T, batches int) (string, *Multiset, *Multiset) {
	t.Helper()
	wantLogs, wantSpans := NewMultiset("l-"), NewMultiset("s-")
	var buf bytes.Buffer
	var lm plog.JSONMarshaler
	var tm ptrace.JSONMarshaler
	n := 0
	for b := range batches {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for range 5 {
			lr := lrs.AppendEmpty()
			id := fmt.Sprintf("l-%d", n)
			n++
			lr.Attributes().PutStr(IDAttribute, id)
			lr.Body().SetStr(`tricky "quoted" {"key":"x"} body`)
			wantLogs.Add(id)
		}
		lrs.AppendEmpty().Body().SetStr("record without id")
		raw, err := lm.MarshalLogs(ld)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(raw)
		buf.WriteByte('\n')

		td := ptrace.NewTraces()
		span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.Attributes().PutStr(IDAttribute, fmt.Sprintf("s-%d", b))
		wantSpans.Add(fmt.Sprintf("s-%d", b))
		raw, err = tm.MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(raw)
		buf.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, wantLogs, wantSpans
}

func TestFileExportReadersAgree(t *testing.T) {
	path, wantLogs, wantSpans := writeExport(t, 20)
	logs, spans := NewMultiset("l-"), NewMultiset("s-")
	if err := ReadFileExport(path, logs, spans); err != nil {
		t.Fatal(err)
	}
	if err := Account(wantLogs, Outcome{Delivered: logs}).Err(false); err != nil {
		t.Fatalf("decoding reader, logs: %v", err)
	}
	if err := Account(wantSpans, Outcome{Delivered: spans}).Err(false); err != nil {
		t.Fatalf("decoding reader, spans: %v", err)
	}
	scanned := NewMultiset("l-")
	if err := ScanFileExportIDs(path, scanned); err != nil {
		t.Fatal(err)
	}
	// The scanner sees span ids too (same attribute); split them off.
	onlyLogs := NewMultiset("l-")
	scanned.Each(func(id string, c uint32) {
		if strings.HasPrefix(id, "l-") {
			for range c {
				onlyLogs.Add(id)
			}
		}
	})
	if err := Account(wantLogs, Outcome{Delivered: onlyLogs}).Err(false); err != nil {
		t.Fatalf("scanning reader: %v", err)
	}
	if scanned.Total() != wantLogs.Total()+wantSpans.Total() {
		t.Fatalf("scanner found %d ids, want %d", scanned.Total(), wantLogs.Total()+wantSpans.Total())
	}
}

func TestReadFileExportRejectsCorruptLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := ReadFileExport(path, NewMultiset(""), NewMultiset(""))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v, want a decode error naming line 1", err)
	}
	if err := ReadFileExport(filepath.Join(t.TempDir(), "missing.json"), NewMultiset(""), NewMultiset("")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestLookupDotted(t *testing.T) {
	doc := map[string]any{
		"attributes": map[string]any{"sluice.test.id": "flat"},
		"resource":   map[string]any{"sluice": map[string]any{"test": map[string]any{"id": "nested"}}},
		"top.level":  "dotted-key",
	}
	for path, want := range map[string]any{
		"attributes.sluice.test.id": "flat",
		"resource.sluice.test.id":   "nested",
		"top.level":                 "dotted-key",
		"attributes.missing":        nil,
	} {
		if got := lookupDotted(doc, strings.Split(path, ".")); got != want {
			t.Errorf("lookupDotted(%s) = %v, want %v", path, got, want)
		}
	}
}

func FuzzScanIDs(f *testing.F) {
	f.Add([]byte(`{"key":"sluice.test.id","value":{"stringValue":"r-1"}}`))
	f.Add([]byte(`{"key":"sluice.test.id","value":{"stringValue":"`))
	f.Add([]byte(`x{"key":"sluice.test.id","value":{"stringValue":"a"}}{"key":"sluice.test.id","value":{"stringValue":""}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		m := NewMultiset("r-")
		scanIDs(line, m)
		if uint64(bytes.Count(line, idMarker)) < m.Total() {
			t.Fatalf("found %d ids but the marker occurs %d times", m.Total(), bytes.Count(line, idMarker))
		}
		m.Each(func(id string, _ uint32) {
			if !bytes.Contains(line, []byte(id)) {
				t.Fatalf("id %q is not in the input", id)
			}
		})
	})
}

func FuzzMultisetID(f *testing.F) {
	for _, s := range []string{"r-0", "r-007", "r-", "r-18446744073709551616", "x", "r-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		m := NewMultiset("r-")
		m.Add(id)
		m.Add(id)
		if m.Count(id) != 2 {
			t.Fatalf("Count(%q) = %d after two adds", id, m.Count(id))
		}
		var seen []string
		m.Each(func(got string, c uint32) { seen = append(seen, got) })
		if len(seen) != 1 || seen[0] != id {
			t.Fatalf("Each gave %q for %q", seen, id)
		}
	})
}
