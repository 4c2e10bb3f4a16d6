"""``volcast_ingest`` (hourly): per series ingest -> validate -> features -> version.

One task group per provider (source), mapped over that provider's configured series
(``instruments:`` of params.yaml, read at parse time); its ``ingest`` runs in the provider's
pool ``volcast_source_<source>`` and ``version`` in ``volcast_dvc`` (one writer). A run conf
``{"symbol", "interval", "source", "path"}`` runs that one series.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import volcast_common as vc
import volcast_dvc
from airflow.sdk import dag, get_current_context, task, task_group

log = logging.getLogger("volcast.airflow")
INSTRUMENTS = vc.instruments()
POOLS = vc.source_pools()  # source -> pool, from scripts/airflow/pools.json
vc.by_source(INSTRUMENTS, POOLS)  # a configured source without a pool: an import error


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
    def series() -> dict[str, list[dict[str, Any]]]:
        """The series of this run (the conf's one, else every configured instrument), grouped
        by source (a source without a pool fails here, naming the series)."""
        conf = get_current_context()["dag_run"].conf
        chosen = vc.series_for_run(conf, INSTRUMENTS)
        log.info("series: %s", ", ".join(vc.label(s) for s in chosen))
        return vc.by_source(chosen, POOLS)

    @task
    def pick(grouped: dict[str, list[dict[str, Any]]], source: str) -> list[dict[str, Any]]:
        """One provider's series (Airflow maps over a task's whole return value only)."""
        return grouped[source]

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

    @task(pool=vc.DVC_POOL)
    def version(one: dict[str, Any]) -> str:
        """DVC add + push (+ git commit) of the curated bars when ``VOLCAST_DVC_REPO`` is a DVC
        repository holding the data directory; without one this logs and skips."""
        repo = os.environ.get("VOLCAST_DVC_REPO")
        if not repo or not os.path.isdir(os.path.join(repo, ".dvc")):
            log.info("no DVC repo configured (VOLCAST_DVC_REPO): versioning skipped")
            return "skipped"
        digest = volcast_dvc.version_curated(one, Path(repo))
        log.info("%s: curated bars versioned (%s) and pushed", vc.label(one), digest)
        return digest

    def provider_group(source: str, pool: str) -> Any:
        # Its ingest runs in the provider's pool, so the pool's slots bound that provider's
        # concurrent requests across every run and series.
        @task_group(group_id=source)
        def one_series(one: dict[str, Any]) -> None:
            version(features(validate(ingest.override(pool=pool)(one))))

        return one_series

    grouped = series()
    for source, pool in POOLS.items():
        mine = pick.override(task_id=f"{source}_series")(grouped, source)
        provider_group(source, pool).expand(one=mine)


volcast_ingest()
