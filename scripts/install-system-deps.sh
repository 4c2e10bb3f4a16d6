#!/usr/bin/env bash
# System packages the test suite needs (Debian). CI runs this as root; developers run it once.
set -euo pipefail
packages=(git prometheus prometheus-alertmanager chromium redis-server postgresql)  # alertmanager: prometheus-alertmanager + amtool; chromium: the browser tests (Playwright); redis-server, postgresql: the Celery scale-out and feature-store tests
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
