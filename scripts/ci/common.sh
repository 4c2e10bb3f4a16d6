# shellcheck shell=bash disable=SC2034  # the ci_* variables are read by the scripts that source this
# Sourced by the scripts of scripts/ci/: repository root, strict mode, the volcast command.
# VOLCAST_BIN runs a given volcast executable (the tests use the venv's); else `uv run volcast`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
volcast() {
  if [ -n "${VOLCAST_BIN:-}" ]; then "$VOLCAST_BIN" "$@"; else uv run --frozen volcast "$@"; fi
}
ci_symbol="${VOLCAST_CI_SYMBOL:-EUR/USD}"
ci_interval="${VOLCAST_CI_INTERVAL:-1h}"
ci_config="${VOLCAST_CI_CONFIG:-params.yaml}"
# A step output for GitHub Actions (also printed, so a local run shows it).
output() {
  echo "$1=$2"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}
