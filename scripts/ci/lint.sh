#!/usr/bin/env bash
# feature -> dev: ruff (lint + format), the import-layer contracts and mypy (Makefile targets).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
make lint typecheck
