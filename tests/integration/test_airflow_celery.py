"""Scale-out: ``volcast_train`` on Airflow's CeleryExecutor with two workers, on one machine.

Real parts only (tests/support/airflow_stack.py): a throwaway PostgreSQL cluster (Debian's
postgresql) as the metadata DB and Celery result backend, Redis as the broker, an MLflow
server as the registry, and the Airflow API server, scheduler, dag-processor and two Celery
workers (``w1``, ``w2``, one task at a time each) from scripts/airflow.sh's environment.
``volcast_train`` is triggered with ``airflow dags trigger`` over four instruments of
``instruments:``; its mapped tasks must run on both workers (the hostname of each task
instance, from the REST API) and register four models in MLflow.

Skips when PostgreSQL, Redis or the Airflow environment is missing; fails
instead under VOLCAST_REQUIRE_SYSTEM_DEPS=1 (CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import system_deps_required
from tests.support.airflow_stack import (
    SYMBOLS,
    MissingPartError,
    celery_stack,
    instruments_params,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.xdist_group("airflow"),
    pytest.mark.timeout(900),
]


def test_train_over_four_instruments_runs_on_both_celery_workers(tmp_path: Path) -> None:
    symbols = list(SYMBOLS[:4])
    params = tmp_path / "params.yaml"
    params.write_text(instruments_params(symbols))
    data_dir = tmp_path / "data"
    try:
        # the four series' datasets are prepared (in one process) while the stack starts
        starting = celery_stack(
            tmp_path, params, data_dir, workers=2, concurrency=1, prepare=symbols
        )
        with starting as stack:
            stack.trigger("volcast_train", "scale_out")
            run = stack.wait_run("volcast_train", "scale_out", deadline=480)
            tis = stack.task_instances("volcast_train", "scale_out")
            models = stack.registered_models()
    except MissingPartError as exc:
        if system_deps_required():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    assert run["state"] == "success", states
    mapped = [t for t in tis if t["task_id"].startswith("one_series.")]
    assert len(mapped) == 3 * len(symbols)  # train, promote, notify per series
    assert {t["state"] for t in mapped} == {"success"}
    trains = [t for t in mapped if t["task_id"] == "one_series.train"]
    assert sorted(t["map_index"] for t in trains) == [0, 1, 2, 3]
    # one task slot per worker and four trains queued at once: both workers train
    assert {t["hostname"] for t in trains} == {"w1", "w2"}
    # the mapped tasks ran on both Celery workers (each names itself in its task instances)
    assert {t["hostname"] for t in mapped} == {"w1", "w2"}, [
        (t["task_id"], t["map_index"], t["hostname"]) for t in mapped
    ]
    assert models == sorted(f"volcast-{s.replace('/', '').lower()}-1h" for s in symbols)
