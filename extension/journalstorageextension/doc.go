// Package journalstorageextension implements the journal_storage extension:
// the collector's storage API (for persistent sending queues, receiver
// offsets) on an append-only log per client, with the index in memory. Every
// batch of changes is one checksummed write, so a persistent queue costs
// one write call per queue operation instead of a B+tree transaction.
//
//go:generate go tool mdatagen metadata.yaml
package journalstorageextension // import "github.com/sluicelogs/sluice/extension/journalstorageextension"
