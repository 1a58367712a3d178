// Package cputime reads the CPU time the process has used, so benchmarks (and the testbed) can
// report throughput per CPU second: on a shared machine the wall clock also
// measures the neighbours.
package cputime // import "github.com/sluicelogs/sluice/internal/cputime"
