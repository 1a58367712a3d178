// Package bench runs testbed scenarios against several collector binaries
// (sluice and the contrib-only otelcol-peer) one after the other under the
// same config shape and load, accounts for every record, samples CPU and
// RSS, and renders a side-by-side markdown table.
package bench
