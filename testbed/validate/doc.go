// Package validate accounts for every record a testbed run sent: each id
// must end exactly once as delivered, sampled out, or dead-lettered. Counts
// are multisets, so both loss and duplicates show. Readers collect the ids
// that landed in the file exporter's OTLP JSON output, OpenSearch, Parquet
// files (read independently with pyarrow) and Kafka.
package validate
