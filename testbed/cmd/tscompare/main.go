// Command tscompare drives one tail sampler (ours or contrib's) with the same
// span load and reports CPU per span and heap/RSS at steady state.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	contrib "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/sluicelogs/sluice/internal/cputime"
	ours "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"
	"github.com/sluicelogs/sluice/testbed/loadgen"
)

const oursYAML = `
decision_wait: 5s
max_buffer_bytes: 1073741824
max_group_bytes: 1048576
policies:
  - name: errors
    type: errors
  - name: ten
    type: probabilistic
    probabilistic: {percentage: 10}
`

const contribYAML = `
decision_wait: 5s
num_traces: 200000
policies:
  - name: errors
    type: status_code
    status_code: {status_codes: [ERROR]}
  - name: ten
    type: probabilistic
    probabilistic: {sampling_percentage: 10}
`

func rssKB() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") {
			fmt.Print(l, "  ")
		}
	}
	return ""
}

func main() {
	which := flag.String("impl", "ours", "ours|contrib|none")
	secs := flag.Int("seconds", 15, "run time")
	rate := flag.Int("rate", 20000, "spans/s")
	flag.Parse()
	var f processor.Factory
	var y string
	switch *which {
	case "ours":
		f, y = ours.NewFactory(), oursYAML
	case "contrib":
		f, y = contrib.NewFactory(), contribYAML
	}
	var p processor.Traces
	ctx := context.Background()
	if f != nil {
		cfg := f.CreateDefaultConfig()
		conf, err := confmap.NewRetrievedFromYAML([]byte(y))
		must(err)
		raw, err := conf.AsConf()
		must(err)
		must(raw.Unmarshal(cfg))
		p, err = f.CreateTraces(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		must(err)
		must(p.Start(ctx, componentHost{}))
	}
	// Pre-build nothing: build each request just in time, as a receiver would.
	perReq := time.Second * 100 / time.Duration(*rate) // 100 spans per request
	start := time.Now()
	var cpuBuild time.Duration
	n := 0
	var heapAt10 uint64
	for i := 0; time.Since(start) < time.Duration(*secs)*time.Second; i++ {
		c0 := cputime.Process()
		td := loadgen.ServerSpanRequest(uint64(i/loadgen.ServerSpansPerTrace*loadgen.ServerSpanTraces), i%loadgen.ServerSpansPerTrace)
		cpuBuild += cputime.Process() - c0
		if p != nil {
			must(p.ConsumeTraces(ctx, td))
		}
		n += 100
		if d := time.Until(start.Add(time.Duration(i+1) * perReq)); d > 0 {
			time.Sleep(d)
		}
		if i == int(10*time.Second/perReq) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heapAt10 = ms.HeapAlloc
		}
	}
	total := cputime.Process()
	fmt.Printf("%s: %d spans in %s, cpu %s (build %s), cpu/span %.0f ns excl. build, heap@10s %.1f MiB  ",
		*which, n, time.Since(start).Round(time.Millisecond), total, cpuBuild, float64(total-cpuBuild)/float64(n), float64(heapAt10)/(1<<20))
	rssKB()
	fmt.Println()
	if p != nil {
		must(p.Shutdown(ctx))
	}
}

type componentHost struct{}

func (componentHost) GetExtensions() map[component.ID]component.Component { return nil }

func must(err error) {
	if err != nil {
		panic(err)
	}
}
