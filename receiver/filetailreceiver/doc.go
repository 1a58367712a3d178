//go:generate go tool mdatagen metadata.yaml

// Package filetailreceiver tails log files and delivers their records with
// at-least-once semantics: a file's offset is checkpointed only after the next
// consumer accepted every record up to that offset, so a crash or a refusing
// pipeline causes re-reads, never loss.
package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"
