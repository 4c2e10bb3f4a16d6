#!/usr/bin/env bash
# feature -> dev: static security scan of src/ (bandit; settings and the two documented skips
# in pyproject.toml's [tool.bandit]). Fails on a medium- or high-severity finding.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
uv run --frozen bandit -c pyproject.toml -r src --severity-level medium --format screen
