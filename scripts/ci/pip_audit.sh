#!/usr/bin/env bash
# feature -> dev: known vulnerabilities in the locked runtime dependencies (pip-audit against
# the exported, hashed lock; the image installs exactly these). Usage:
#   scripts/ci/pip_audit.sh                 # export and audit (queries the advisory service)
#   scripts/ci/pip_audit.sh --export-only   # only write the requirements file it would audit
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
requirements="${VOLCAST_AUDIT_REQUIREMENTS:-reports/ci/requirements-runtime.txt}"
mkdir -p "$(dirname "$requirements")"
uv export --frozen --no-dev --no-emit-project --format requirements-txt -o "$requirements" >/dev/null
echo "runtime requirements: $requirements ($(grep -c '==' "$requirements") pinned)"
if [ "${1:-}" = "--export-only" ]; then exit 0; fi
uv run --frozen pip-audit --strict --disable-pip --requirement "$requirements" --progress-spinner off
