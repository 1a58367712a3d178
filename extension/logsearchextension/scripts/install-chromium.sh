#!/usr/bin/env bash
# Installs Debian's chromium for the log_search browser test
# (extension/logsearchextension/browser_test.go). The test skips without
# chromium locally and fails under CI=true, so CI runs this first.
# Idempotent: does nothing when chromium is already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || chromium-browser --version)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: apt-get not found; install chromium with your package manager or set SLUICE_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
chromium --version
