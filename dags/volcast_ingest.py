"""``volcast_ingest`` (hourly): per series ingest -> validate -> features -> version.

One mapped task group per configured series (``instruments:`` of params.yaml, read at parse
time); a run conf ``{"symbol", "interval", "source", "path"}`` runs that one series.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import datetime
from typing import Any

import volcast_common as vc
from airflow.sdk import dag, get_current_context, task, task_group

log = logging.getLogger("volcast.airflow")
INSTRUMENTS = vc.instruments()


@dag(
    dag_id="volcast_ingest",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["volcast", "ingest"],
    default_args=vc.default_args(timeout_minutes=30),
    doc_md=__doc__,
)
def volcast_ingest() -> None:
    @task
    def series() -> list[dict[str, Any]]:
        """The series of this run: the conf's one, else every configured instrument."""
        conf = get_current_context()["dag_run"].conf
        chosen = vc.series_for_run(conf, INSTRUMENTS)
        log.info("series: %s", ", ".join(vc.label(s) for s in chosen))
        return chosen

    @task
    def ingest(one: dict[str, Any]) -> dict[str, Any]:
        vc.volcast("ingest", *vc.source_args(one), *vc.series_args(one))
        return one

    @task
    def validate(one: dict[str, Any]) -> dict[str, Any]:
        vc.volcast("validate", *vc.series_args(one))
        return one

    @task
    def features(one: dict[str, Any]) -> dict[str, Any]:
        vc.volcast("features", *vc.series_args(one))
        return one

    @task
    def version(one: dict[str, Any]) -> str:
        """``dvc add`` + ``dvc push`` of the curated bars when ``VOLCAST_DVC_REPO`` is a DVC repo.

        Not exercised by the tests yet; without a configured DVC repo this logs and skips.
        """
        repo = os.environ.get("VOLCAST_DVC_REPO")
        if not repo or not os.path.isdir(os.path.join(repo, ".dvc")):
            log.info("no DVC repo configured (VOLCAST_DVC_REPO): versioning skipped")
            return "skipped"
        dvc = os.environ.get("VOLCAST_DVC_BIN") or shutil.which("dvc") or "dvc"
        target = vc.data_dir() / "curated" / vc.slug(one["symbol"]) / one["interval"]
        for args in (["add", str(target)], ["push"]):
            subprocess.run([dvc, *args], cwd=repo, check=True)
        return "versioned"

    @task_group
    def one_series(one: dict[str, Any]) -> None:
        version(features(validate(ingest(one))))

    one_series.expand(one=series())


volcast_ingest()
