#!/usr/bin/env bash
# feature -> dev: the whole test suite as CI runs it (.ci/run: system packages, then `make test`
# with VOLCAST_REQUIRE_SYSTEM_DEPS=1, so a missing tool fails instead of skipping). Run as root.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
exec bash .ci/run
