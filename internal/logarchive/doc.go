// Package logarchive owns the contract of Sluice's Parquet log archive: the
// Arrow schema of a log row and of a span row (column names and types) and the
// Hive-style layout of partition directories and file names.
//
// The parquet exporter writes through this package and the log_search
// extension reads through it, so both sides agree on one definition. The
// contract only grows: columns and placeholders may be added, never renamed or
// retyped (see SchemaVersion).
package logarchive
