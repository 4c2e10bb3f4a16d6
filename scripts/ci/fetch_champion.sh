#!/usr/bin/env bash
# test -> master: fetch the live @champion (its model files into VOLCAST_CI_MODEL_DIR, default
# reports/ci/champion) and publish its name and version as step outputs (the image tag).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
: "${MLFLOW_TRACKING_URI:?MLFLOW_TRACKING_URI must name the MLflow server of the team}"
python_cmd=(uv run --frozen python)
if [ -n "${VOLCAST_BIN:-}" ]; then python_cmd=("$(dirname "$VOLCAST_BIN")/python"); fi
"${python_cmd[@]}" scripts/ci/champion.py --symbol "$ci_symbol" --interval "$ci_interval" \
  --output-dir "${VOLCAST_CI_MODEL_DIR:-reports/ci/champion}" | while IFS='=' read -r key value; do
  output "$key" "$value"
done
