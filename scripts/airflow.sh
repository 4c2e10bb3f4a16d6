#!/usr/bin/env bash
# The Airflow CLI in the project's own Airflow environment (docs/orchestration.md).
#
#   scripts/airflow.sh dags list
#   scripts/airflow.sh dags test volcast_train -c '{"symbol": "EUR/USD", "interval": "1h", "source": "sample"}'
#   scripts/airflow.sh --python -c 'import airflow'     # the environment's python, same settings
#
# Airflow lives in its own virtualenv (default .airflow-venv/), never in volcast's: its pins
# clash with ours. The environment is created on first use (and re-synced when the lock
# changes) from scripts/airflow/requirements.txt, a fully pinned lock compiled from
# scripts/airflow/requirements.in, so no constraint file is fetched at run time.
# AIRFLOW_HOME defaults to <data dir>/airflow (SQLite metadata, standalone defaults), the DAGs
# folder is dags/, examples are off. The DAG tasks run the volcast CLI of the project's venv
# ($VOLCAST_BIN, default .venv/bin/volcast) as subprocesses. The Airflow pools of
# scripts/airflow/pools.json (one per data provider) are imported on first use.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VOLCAST_AIRFLOW_VENV:-$repo/.airflow-venv}"
lock="$repo/scripts/airflow/requirements.txt"
python_version="${VOLCAST_AIRFLOW_PYTHON:-3.11}"

lock_sum="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/airflow" ] || [ "$(cat "$venv/.volcast-lock" 2>/dev/null)" != "$lock_sum" ]; then
  command -v uv >/dev/null || { echo "airflow.sh: uv is needed to create $venv" >&2; exit 3; }
  echo "airflow.sh: creating the Airflow environment in $venv (first use: a few minutes)" >&2
  [ -d "$venv" ] || uv venv --quiet --python "$python_version" "$venv" >&2
  # --compile-bytecode: .pyc ahead, or every process recompiles its imports (PYTHONDONTWRITEBYTECODE)
  VIRTUAL_ENV="$venv" uv pip sync --quiet --compile-bytecode --python "$venv/bin/python" "$lock" >&2
  echo "$lock_sum" >"$venv/.volcast-lock"
fi

data_dir="${VOLCAST_DATA_DIR:-$repo/data}"
case "$data_dir" in
  *://*) ;;  # remote data directory: AIRFLOW_HOME must then be set explicitly
  *) mkdir -p "$data_dir" && data_dir="$(cd "$data_dir" && pwd)" ;;
esac
export VOLCAST_DATA_DIR="$data_dir"
if [ -z "${AIRFLOW_HOME:-}" ]; then
  case "$data_dir" in
    *://*) echo "airflow.sh: set AIRFLOW_HOME when VOLCAST_DATA_DIR is remote" >&2; exit 2 ;;
  esac
  export AIRFLOW_HOME="$data_dir/airflow"
fi
mkdir -p "$AIRFLOW_HOME"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$repo/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-INFO}"
export VOLCAST_REPO="${VOLCAST_REPO:-$repo}"
export VOLCAST_BIN="${VOLCAST_BIN:-$repo/.venv/bin/volcast}"
export VOLCAST_PARAMS="${VOLCAST_PARAMS:-$repo/params.yaml}"
export PYTHONPATH="$AIRFLOW__CORE__DAGS_FOLDER${PYTHONPATH:+:$PYTHONPATH}"

if [ "${1:-}" = "--python" ]; then
  shift
  exec "$venv/bin/python" "$@"
fi
# The metadata database, created (or migrated) once per AIRFLOW_HOME and lock.
if [ "${1:-}" != "db" ] && [ "$(cat "$AIRFLOW_HOME/.volcast-db" 2>/dev/null)" != "$lock_sum" ]; then
  "$venv/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/db-migrate.log" >&2; exit 4; }
  echo "$lock_sum" >"$AIRFLOW_HOME/.volcast-db"
fi
# The pools (one per data provider, plus volcast_dvc), imported once per AIRFLOW_HOME and
# pools file; edit the file (or point VOLCAST_AIRFLOW_POOLS at your own) to change slots.
pools="${VOLCAST_AIRFLOW_POOLS:-$repo/scripts/airflow/pools.json}"
export VOLCAST_AIRFLOW_POOLS="$pools"
pools_sum="$(sha256sum "$pools" | cut -d' ' -f1)"
if [ "${1:-}" != "db" ] && [ "$(cat "$AIRFLOW_HOME/.volcast-pools" 2>/dev/null)" != "$pools_sum" ]; then
  "$venv/bin/airflow" pools import "$pools" >"$AIRFLOW_HOME/pools-import.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/pools-import.log" >&2; exit 5; }
  echo "$pools_sum" >"$AIRFLOW_HOME/.volcast-pools"
fi
exec "$venv/bin/airflow" "$@"
