//go:generate go tool mdatagen metadata.yaml

// Package tailsamplingprocessor keeps or drops whole requests — their log
// records and their spans together — after seeing how they ended.
//
// Records are grouped by trace id (or, for logs without one, by a configured
// correlation attribute). One processor instance is shared by every pipeline
// that references the same component id, so a logs pipeline and a traces
// pipeline get a single decision per group.
package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"
