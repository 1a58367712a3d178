//go:generate go tool mdatagen metadata.yaml

// Package piimaskprocessor provides the pii_mask processor: it finds personal
// data and credentials (emails, payment cards, SSNs, phones, IP addresses,
// IBANs, JWTs, cloud and SaaS keys, secrets in key=value text, credentials in
// URLs and custom patterns) in logs, traces and metrics and redacts,
// partially masks, hashes or drops them before anything leaves the pipeline.
package piimaskprocessor // import "github.com/sluicelogs/sluice/processor/piimaskprocessor"
