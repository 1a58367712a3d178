package detect

import (
	"strings"
	"testing"

	"github.com/sluicelogs/sluice/internal/cputime"
)

// Realistic lines without PII and the same set with one PII line in ten.
var (
	cleanLines = []string{
		`2026-11-21T05:11:10.123Z INFO  [checkout-7d9f8b6c4-x2x9z] order=ORD-2026-000123 status=200 latency=12.5ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736`,
		`level=info msg="request done" method=GET path=/api/v1/orders/550e8400-e29b-41d4-a716-446655440000 took=1.2s bytes=5123`,
		`{"ts":1732165870123,"level":"warn","logger":"pool","msg":"connection pool exhausted","size":64,"waiting":12,"version":"1.14.2"}`,
		`I1121 05:11:10.123456       1 controller.go:123] Reconciling deployment default/api generation=42 resourceVersion=918273`,
		`GET /healthz HTTP/1.1 200 2 "-" "kube-probe/1.30" 0.001 upstream=10.0.3.4:8080 cache=HIT`,
	}
	piiLines = []string{
		`user jane.doe@example.com paid with 4111 1111 1111 1111 from 203.0.113.42`,
		`login failed for bob password=hunter2 Authorization: Bearer abc123DEF456ghi789`,
	}
)

func benchText(pii bool) string {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		if pii && i%10 == 9 {
			b.WriteString(piiLines[i%len(piiLines)])
		} else {
			b.WriteString(cleanLines[i%len(cleanLines)])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// BenchmarkScan measures the scanner alone, line by line, all detectors on.
// Run: go test -run '^$' -bench BenchmarkScan -benchmem ./processor/piimaskprocessor/internal/detect/
func BenchmarkScan(b *testing.B) {
	for _, tc := range []struct {
		name string
		pii  bool
	}{{"no_pii", false}, {"pii_10pct", true}} {
		lines := strings.Split(strings.TrimSuffix(benchText(tc.pii), "\n"), "\n")
		size := 0
		for _, l := range lines {
			size += len(l)
		}
		b.Run(tc.name, func(b *testing.B) {
			sc := allScanner()
			var dst []Match
			b.SetBytes(int64(size))
			b.ReportAllocs()
			c0 := cputime.Process()
			for i := 0; i < b.N; i++ {
				for _, l := range lines {
					dst = sc.Scan(dst[:0], l, "")
				}
			}
			if cpu := cputime.Process() - c0; cpu > 0 {
				b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}
