package piimaskprocessor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/internal/cputime"
)

// contribRegexes is what users paste into contrib's redaction processor for
// the same entities: the 13 patterns commonly found in its issues and docs.
var contribRegexes = []string{
	`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,                                             // email
	`\b(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|3[47][0-9]{13}|6(?:011|5[0-9]{2})[0-9]{12})\b`, // card
	`\b\d{3}-\d{2}-\d{4}\b`,                                              // ssn
	`\+?\d{1,3}[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}`,                  // phone
	`\b(?:\d{1,3}\.){3}\d{1,3}\b`,                                        // ipv4
	`\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b`,                       // ipv6
	`\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b`,                                   // iban
	`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`,                  // jwt
	`(?i)bearer\s+[A-Za-z0-9._~+/-]+=*`,                                  // bearer
	`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`,                                      // aws key id
	`\bgh[pousr]_[A-Za-z0-9]{36}\b`,                                      // github
	`xox[abprs]-[A-Za-z0-9-]{10,}`,                                       // slack
	`(?i)(password|passwd|pwd|secret|token|api_key|apikey)\s*[=:]\s*\S+`, // key=value secrets
}

func newContribRedaction(t testing.TB, next *consumertest.LogsSink) processor.Logs {
	cfg := &redactionprocessor.Config{AllowAllKeys: true, BlockedValues: contribRegexes, Summary: "silent"}
	set := processortest.NewNopSettings(component.MustNewType("redaction"))
	p, err := redactionprocessor.NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	return p
}

// corpusLogs returns n log records whose bodies cycle through the corpus.
func corpusLogs(corpus []labelled, n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < n; i++ {
		lrs.AppendEmpty().Body().SetStr(corpus[i%len(corpus)].text)
	}
	return ld
}

// corpusOutcome counts labelled values no longer in the output bodies and
// look-alikes still there.
func corpusOutcome(corpus []labelled, out plog.Logs) (hidden, positives, kept, negatives int) {
	lrs := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		l := corpus[i%len(corpus)]
		body := lrs.At(i).Body().Str()
		for _, s := range l.positives {
			positives++
			if !strings.Contains(body, l.text[s.start:s.end]) {
				hidden++
			}
		}
		for _, s := range l.negatives {
			negatives++
			if strings.Contains(body, l.text[s.start:s.end]) {
				kept++
			}
		}
	}
	return hidden, positives, kept, negatives
}

// TestCorpusContribRedactionSideBySide runs contrib's redaction processor
// with the 13 regexes on the same corpus; pii_mask must hide more labelled
// values and keep more look-alikes.
func TestCorpusContribRedactionSideBySide(t *testing.T) {
	corpus := append(loadCorpus(t, corpusFile), loadCorpus(t, holdoutFile)...)
	sink := new(consumertest.LogsSink)
	p := newContribRedaction(t, sink)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeLogs(context.Background(), corpusLogs(corpus, len(corpus))))
	require.NoError(t, p.Shutdown(context.Background()))
	cHidden, positives, cKept, negatives := corpusOutcome(corpus, sink.AllLogs()[0])

	out := runLogs(t, defaultCfg(), nopSettings(), corpusLogs(corpus, len(corpus)))
	hidden, _, kept, _ := corpusOutcome(corpus, out)
	t.Logf("labelled values hidden: pii_mask %d/%d (%.1f%%), contrib redaction %d/%d (%.1f%%)",
		hidden, positives, 100*float64(hidden)/float64(positives), cHidden, positives, 100*float64(cHidden)/float64(positives))
	t.Logf("look-alikes kept:       pii_mask %d/%d (%.1f%%), contrib redaction %d/%d (%.1f%%)",
		kept, negatives, 100*float64(kept)/float64(negatives), cKept, negatives, 100*float64(cKept)/float64(negatives))
	require.Greater(t, hidden, cHidden)
	require.GreaterOrEqual(t, kept, cKept)
}

// benchCorpora are the three workloads: realistic lines without PII, the
// same with every tenth line carrying PII, and the labelled corpus as is.
func benchCorpora(b *testing.B) map[string][]labelled {
	corpus := loadCorpus(b, corpusFile)
	var clean, dirty []labelled
	for _, l := range corpus {
		if len(l.positives) == 0 {
			clean = append(clean, l)
		} else {
			dirty = append(dirty, l)
		}
	}
	var mixed []labelled
	for i := 0; len(mixed) < 1000; i++ {
		if i%10 == 9 {
			mixed = append(mixed, dirty[i%len(dirty)])
		} else {
			mixed = append(mixed, clean[i%len(clean)])
		}
	}
	return map[string][]labelled{"no_pii": clean, "pii_10pct": mixed, "corpus": corpus}
}

const benchBatch = 1000

func benchLogs(b *testing.B, lines []labelled, newProc func(*consumertest.LogsSink) processor.Logs) {
	src := corpusLogs(lines, benchBatch)
	var size int64
	lrs := src.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		size += int64(len(lrs.At(i).Body().Str()))
	}
	sink := new(consumertest.LogsSink)
	p := newProc(sink)
	ctx := context.Background()
	require.NoError(b, p.Start(ctx, componenttest.NewNopHost()))
	work := plog.NewLogs()
	b.SetBytes(size)
	b.ReportAllocs()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src.CopyTo(work)
		sink.Reset()
		c0 := cputime.Process()
		b.StartTimer()
		if err := p.ConsumeLogs(ctx, work); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cputime.Process() - c0
	}
	b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		// Per CPU second: what one core sustains, whatever the machine's load.
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		b.ReportMetric(float64(benchBatch*b.N)/cpu.Seconds(), "records/cpu-s")
	}
	require.NoError(b, p.Shutdown(ctx))
}

// BenchmarkLogs compares pii_mask with contrib's redaction processor on the
// same batches of 1000 records (the batch copy is excluded from the timing).
// Run: go test -run '^$' -bench BenchmarkLogs -benchmem ./processor/piimaskprocessor/
func BenchmarkLogs(b *testing.B) {
	for _, name := range []string{"no_pii", "pii_10pct", "corpus"} {
		lines := benchCorpora(b)[name]
		b.Run(name+"/pii_mask", func(b *testing.B) {
			benchLogs(b, lines, func(sink *consumertest.LogsSink) processor.Logs {
				p, err := NewFactory().CreateLogs(context.Background(), nopSettings(), defaultCfg(), sink)
				require.NoError(b, err)
				return p
			})
		})
		b.Run(name+"/contrib_redaction", func(b *testing.B) {
			benchLogs(b, lines, func(sink *consumertest.LogsSink) processor.Logs {
				return newContribRedaction(b, sink)
			})
		})
	}
}

// BenchmarkLogsAttributes: records with typical HTTP server attributes
// (header arrays, ids, a secret header), the path the key rules take.
func BenchmarkLogsAttributes(b *testing.B) {
	src := plog.NewLogs()
	lrs := src.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < benchBatch; i++ {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("request served")
		a := lr.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("url.path", "/api/v1/orders/"+strconv.Itoa(i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("dd.trace_id", "4088995790328921840")
		a.PutStr("request_id", "c0ffee-"+strconv.Itoa(i))
		a.PutEmptySlice("http.request.header.user-agent").AppendEmpty().SetStr("curl/8.5.0")
		a.PutEmptySlice("http.request.header.authorization").AppendEmpty().SetStr("Bearer abc123DEF456ghi")
		a.PutStr("client.address", "203.0.113.9")
		a.PutStr("user.email", "jane.doe@example.com")
		a.PutInt("duration_ms", 12)
	}
	p, err := newPIIMask(defaultCfg(), nopSettings().TelemetrySettings)
	require.NoError(b, err)
	work := plog.NewLogs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src.CopyTo(work)
		b.StartTimer()
		if _, err := p.processLogs(context.Background(), work); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "records/s")
	require.NoError(b, p.shutdown(context.Background()))
}

// BenchmarkDropHugeMap: one record whose attributes all match under the
// drop action; ns/op over the entry count should stay flat as it grows.
func BenchmarkDropHugeMap(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			raw := make(map[string]any, n)
			for i := 0; i < n; i++ {
				raw["k"+strconv.Itoa(i)] = "u" + strconv.Itoa(i) + "@example.com"
			}
			src := plog.NewLogs()
			require.NoError(b, src.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().FromRaw(raw))
			cfg := defaultCfg()
			cfg.DefaultAction = "drop"
			p, err := newPIIMask(cfg, nopSettings().TelemetrySettings)
			require.NoError(b, err)
			work := plog.NewLogs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				src.CopyTo(work)
				b.StartTimer()
				if _, err := p.processLogs(context.Background(), work); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
			require.NoError(b, p.shutdown(context.Background()))
		})
	}
}
