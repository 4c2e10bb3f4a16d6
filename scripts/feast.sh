#!/usr/bin/env bash
# The Feast CLI in the project's own Feast environment (docs/feature-store.md).
#
#   scripts/feast.sh apply
#   scripts/feast.sh materialize-incremental 2026-01-01T00:00:00
#   scripts/feast.sh serve --port 6566
#   scripts/feast.sh --python -c 'import feast'      # the environment's python, same settings
#
# Feast lives in its own virtualenv (default .feast-venv/), never in volcast's: it pins older
# pandas, prometheus-client and tenacity. The environment is created on first use (and
# re-synced when the lock changes) from scripts/feast/requirements.txt, a fully pinned lock
# compiled from scripts/feast/requirements.in.
# Before every command scripts/feast/render.py writes feature_store.yaml and spec.json under
# VOLCAST_FEAST_HOME (default <data dir>/feature_store) from the environment
# (VOLCAST_FEAST_ONLINE=redis://... for Redis, else SQLite) and the stored datasets; when they
# changed, `feast apply` runs first. The Feast objects are feature_repo/volcast_features.py.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VOLCAST_FEAST_VENV:-$repo/.feast-venv}"
lock="$repo/scripts/feast/requirements.txt"
python_version="${VOLCAST_FEAST_PYTHON:-3.11}"

lock_sum="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/feast" ] || [ "$(cat "$venv/.volcast-lock" 2>/dev/null)" != "$lock_sum" ]; then
  command -v uv >/dev/null || { echo "feast.sh: uv is needed to create $venv" >&2; exit 3; }
  echo "feast.sh: creating the Feast environment in $venv (first use)" >&2
  [ -d "$venv" ] || uv venv --quiet --python "$python_version" "$venv" >&2
  # --compile-bytecode: .pyc ahead, or every process recompiles its imports (PYTHONDONTWRITEBYTECODE)
  VIRTUAL_ENV="$venv" uv pip sync --quiet --compile-bytecode --python "$venv/bin/python" "$lock" >&2
  echo "$lock_sum" >"$venv/.volcast-lock"
fi

data_dir="${VOLCAST_DATA_DIR:-$repo/data}"
case "$data_dir" in
  *://*) echo "feast.sh: the feature store needs a local VOLCAST_DATA_DIR (got $data_dir)" >&2; exit 2 ;;
esac
mkdir -p "$data_dir" && data_dir="$(cd "$data_dir" && pwd)"
export VOLCAST_DATA_DIR="$data_dir"
export VOLCAST_FEAST_HOME="${VOLCAST_FEAST_HOME:-$data_dir/feature_store}"
feature_repo="${VOLCAST_FEAST_REPO:-$repo/feature_repo}"
# Feast's own usage telemetry stays off.
export FEAST_USAGE="${FEAST_USAGE:-False}"

if [ "${1:-}" = "--python" ]; then
  shift
  exec "$venv/bin/python" "$@"
fi
needs_apply="$("$venv/bin/python" "$repo/scripts/feast/render.py")"
feast=("$venv/bin/feast" -c "$feature_repo" -f "$VOLCAST_FEAST_HOME/feature_store.yaml")
if [ -n "$needs_apply" ] && [ "${1:-}" != "apply" ]; then
  "${feast[@]}" apply >"$VOLCAST_FEAST_HOME/apply.log" 2>&1 \
    || { cat "$VOLCAST_FEAST_HOME/apply.log" >&2; exit 4; }
  cp "$VOLCAST_FEAST_HOME/.pending" "$VOLCAST_FEAST_HOME/.applied"
fi
if [ "${1:-}" = "apply" ]; then
  "${feast[@]}" "$@"
  cp "$VOLCAST_FEAST_HOME/.pending" "$VOLCAST_FEAST_HOME/.applied"
  exit 0
fi
exec "${feast[@]}" "$@"
