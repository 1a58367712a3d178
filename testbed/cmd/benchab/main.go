// Command benchab compares Go benchmarks of two or more compiled test
// binaries on a noisy machine: it runs them alternately, round after round,
// so that a change in the machine's speed hits every binary alike, and
// prints each metric's median and range per binary.
//
// On the 2-core VM this project is measured on, the same benchmark varies by
// 20–40 % from one run to the next and by a third from one hour to the next;
// only interleaved runs of both versions tell a change from the weather.
//
//	git worktree add /tmp/base <base-commit>
//	(cd /tmp/base && go test -c -o /tmp/old.test ./processor/tailsamplingprocessor/)
//	go test -c -o /tmp/new.test ./processor/tailsamplingprocessor/
//	go run ./testbed/cmd/benchab -bench 'BenchmarkDecideDropped$' -benchtime 300000x -rounds 5 /tmp/old.test /tmp/new.test
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	bench := flag.String("bench", ".", "benchmarks to run (-test.bench)")
	benchtime := flag.String("benchtime", "", "-test.benchtime for every run (default: the binaries' default)")
	rounds := flag.Int("rounds", 5, "how many times each binary runs, alternately")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchab [flags] TEST-BINARY TEST-BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	bins := flag.Args()
	if len(bins) < 2 || *rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	samples := map[key][]float64{}
	for round := 1; round <= *rounds; round++ {
		for _, bin := range bins {
			args := []string{"-test.run", "^$", "-test.bench", *bench}
			if *benchtime != "" {
				args = append(args, "-test.benchtime", *benchtime)
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchab: %s (round %d): %v\n%s", bin, round, err, out)
				os.Exit(1)
			}
			for _, m := range parse(out) {
				k := key{bin: bin, bench: m.bench, unit: m.unit}
				samples[k] = append(samples[k], m.value)
			}
			fmt.Fprintf(os.Stderr, "round %d/%d: %s done\n", round, *rounds, filepath.Base(bin))
		}
	}
	fmt.Print(report(bins, samples))
}

type key struct{ bin, bench, unit string }

type measurement struct {
	bench, unit string
	value       float64
}

// parse reads the result lines of `go test -bench` output:
// "BenchmarkX-2   300000   198.3 ns/op   207.4 cpu-ns/group   3 B/op ...".
func parse(out []byte) []measurement {
	var ms []measurement
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			ms = append(ms, measurement{bench: f[0], unit: f[i+1], value: v})
		}
	}
	return ms
}

// report prints one line per benchmark and unit: per binary, the median and
// the range of its runs.
func report(bins []string, samples map[key][]float64) string {
	type row struct{ bench, unit string }
	var rows []row
	seen := map[row]bool{}
	for k := range samples {
		if r := (row{k.bench, k.unit}); !seen[r] {
			seen[r] = true
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.bench, b.bench); c != 0 {
			return c
		}
		return strings.Compare(a.unit, b.unit)
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-40s %-14s", "benchmark", "unit")
	for _, b := range bins {
		fmt.Fprintf(&sb, " %-28s", filepath.Base(b))
	}
	sb.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-40s %-14s", r.bench, r.unit)
		for _, b := range bins {
			v := slices.Clone(samples[key{b, r.bench, r.unit}])
			if len(v) == 0 {
				fmt.Fprintf(&sb, " %-28s", "-")
				continue
			}
			slices.Sort(v)
			fmt.Fprintf(&sb, " %-28s", fmt.Sprintf("%s (%s–%s) n=%d", num(median(v)), num(v[0]), num(v[len(v)-1]), len(v)))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// median of sorted values.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
