#!/usr/bin/env bash
# test -> master: run the built image on the CI runner against the registry at
# MLFLOW_TRACKING_URI and the data directory VOLCAST_CI_DATA_DIR (curated bars of the fixed
# dataset, from train_challenger.sh's data stages), then smoke-test it (smoke_test.py).
# Usage: run_container.sh IMAGE [EXPECTED_VERSION]. The container is removed afterwards.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
image="${1:?image}" expected="${2:-}"
data_dir="$(cd "${VOLCAST_CI_DATA_DIR:-data}" && pwd)"
chmod -R a+rwX "$data_dir"  # the image runs as 10001, the runner as another user
name="volcast-smoke-$$"
port="${VOLCAST_CI_PORT:-18000}"
docker run --detach --name "$name" --network host --user 10001:10001 \
  --env MLFLOW_TRACKING_URI --env VOLCAST_DATA_DIR=/data --volume "$data_dir:/data" \
  "$image" --host 127.0.0.1 --port "$port" --workers 2
trap 'docker logs "$name" | tail -50; docker rm --force "$name" >/dev/null' EXIT
python_cmd=(uv run --frozen python)
if [ -n "${VOLCAST_BIN:-}" ]; then python_cmd=("$(dirname "$VOLCAST_BIN")/python"); fi
args=(--url "http://127.0.0.1:$port" --symbol "$ci_symbol")
if [ -n "$expected" ]; then args+=(--expect-version "$expected"); fi
"${python_cmd[@]}" scripts/ci/smoke_test.py "${args[@]}"
