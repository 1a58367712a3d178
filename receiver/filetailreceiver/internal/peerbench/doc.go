// Package peerbench benchmarks file_tail side by side with contrib's
// file_log on the same files, both run through their factories as a
// collector runs them. It is a separate package so the receiver's own test
// binary does not link contrib's stanza stack.
package peerbench // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/peerbench"
