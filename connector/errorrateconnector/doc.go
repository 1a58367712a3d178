// Package errorrateconnector implements the error_rate connector: it counts
// records and errors from logs or traces per group in tumbling or sliding
// windows (event or processing time), emits cumulative (or delta) records and
// errors sums with stable start times, a per-window error ratio gauge and the
// top error-message templates, and raises alert events (sluice.alert log
// records) when rules with hysteresis fire and resolve.
//
//go:generate go tool mdatagen metadata.yaml
package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"
