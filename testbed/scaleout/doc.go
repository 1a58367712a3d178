// Package scaleout runs the deployment modes end to end with real backends:
// one agent publishing to Kafka and two gateways consuming it as one group,
// writing to OpenSearch, the Parquet archive on MinIO and Prometheus; one
// gateway is killed with SIGKILL mid-run. See scaleout_test.go.
package scaleout
