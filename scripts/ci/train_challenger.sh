#!/usr/bin/env bash
# dev -> test: the data stages on the fixed dataset (prepare_data.sh), then `volcast train`,
# which registers @challenger on the registry at MLFLOW_TRACKING_URI. No promotion here:
# the comparison (compare_challenger.sh) is read-only.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
: "${MLFLOW_TRACKING_URI:?MLFLOW_TRACKING_URI must name the MLflow server of the team}"
bash scripts/ci/prepare_data.sh
volcast train --symbol "$ci_symbol" --interval "$ci_interval" --config "$ci_config"
