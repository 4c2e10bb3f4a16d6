#!/usr/bin/env bash
# dev -> test and test -> master: the pipeline's data stages (ingest -> validate -> features)
# on the fixed dataset: the seeded sample of VOLCAST_CI_CONFIG (default params.yaml), or
# VOLCAST_CI_SOURCE/VOLCAST_CI_PATH. Writes under VOLCAST_DATA_DIR (default ./data).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
series=(--symbol "$ci_symbol" --interval "$ci_interval" --config "$ci_config")
source_opts=(--source "${VOLCAST_CI_SOURCE:-sample}")
if [ -n "${VOLCAST_CI_PATH:-}" ]; then source_opts+=(--path "$VOLCAST_CI_PATH"); fi
volcast ingest "${source_opts[@]}" "${series[@]}"
volcast validate "${series[@]}"
volcast features "${series[@]}"
