//go:generate go tool mdatagen metadata.yaml

// Package parquetexporter writes logs and traces as an analytics-ready Parquet
// archive (one row per log record or span, flat typed columns, Hive partitions) to a local
// directory or S3-compatible object storage. Records are staged in an
// fsynced Arrow IPC journal before they are acknowledged, so a crash loses
// nothing; files appear in the archive atomically under deterministic names.
package parquetexporter // import "github.com/sluicelogs/sluice/exporter/parquetexporter"
