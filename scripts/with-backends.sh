#!/usr/bin/env bash
# Runs a command with the real test backends (OpenSearch, Kafka, MinIO, Prometheus) started once and
# their addresses exported as SLUICE_* variables, then stops them whatever the command's outcome.
# Tests that need a backend reuse these; a test run alone starts its own (testbed/backend).
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=testbed/.cache/backends.env
if [ -d testbed/cmd/backends ]; then
  trap 'go run ./testbed/cmd/backends down || true' EXIT
  start=$(date +%s)
  go run ./testbed/cmd/backends up
  echo "backends up in $(( $(date +%s) - start ))s"
  # shellcheck disable=SC1090
  source "$env_file"
fi
"$@"
