// Package backend starts real servers for integration tests and testbed runs:
// OpenSearch, Kafka (KRaft), MinIO and Prometheus, all on 127.0.0.1.
//
// Each XxxFor(t) helper first looks for an already running server named by an
// environment variable (SLUICE_OPENSEARCH_URL, SLUICE_KAFKA_BROKERS,
// SLUICE_MINIO_ENDPOINT, SLUICE_PROMETHEUS_URL), which `make test` and
// `go run ./testbed/cmd/backends up` set. Otherwise it installs the server once
// into the git-ignored cache testbed/.cache (guarded by a file lock so that
// parallel test binaries share one download), starts a private instance on
// free ports, waits until it answers, and stops it in t.Cleanup.
//
// When a prerequisite (java, mvn, the prometheus package, …) is missing the
// helper skips the test with a message naming it; under CI=true it fails.
//
// Starting a server costs seconds (OpenSearch ~20 s); tests that need one
// should call the helper once in a parent test and share it between subtests,
// and use unique index/topic/bucket names.
package backend
