// Package agentbench measures the node agent as users run it: a writer
// appends JSON application log lines with PII to a file at a fixed rate, the
// agent (bin/sluice --config configs/agent.yaml: file_tail → memory_limiter →
// pii_mask → batch → otlp_grpc with a persistent queue) tails, parses, masks
// and forwards them, and an in-process OTLP/gRPC sink standing in for the
// gateway records when each record arrives.
//
// Per run it reports the lines/s the agent sustained, its CPU time over wall
// time (100 % = one core) and RSS, the ingest latency (arrival at the sink −
// the write time carried in the line) at p50/p95/p99/max, lost and duplicated
// lines, and records in which planted PII survived. The same run works with
// the contrib-only peer collector (file_log → redaction → batch → otlp_grpc
// with an in-memory queue: the peer has no file_storage) for a side-by-side
// figure, and with --set overrides of the agent config to test alternatives.
package agentbench
