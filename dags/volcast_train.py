"""``volcast_train`` (daily): per series train -> promote -> notify.

One mapped task group per configured series; a run conf ``{"symbol", "interval", ...}``
(what ``volcast_monitor`` sends) trains that one series. ``notify`` logs the promotion
report as the notification body.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import volcast_common as vc
from airflow.sdk import dag, get_current_context, task, task_group

log = logging.getLogger("volcast.airflow")
INSTRUMENTS = vc.instruments()
REJECTED_EXIT_CODE = 9  # volcast promote: challenger rejected, champion kept (not an error)


@dag(
    dag_id="volcast_train",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["volcast", "train"],
    default_args=vc.default_args(timeout_minutes=120),
    doc_md=__doc__,
)
def volcast_train() -> None:
    @task
    def series() -> list[dict[str, Any]]:
        conf = get_current_context()["dag_run"].conf
        chosen = vc.series_for_run(conf, INSTRUMENTS)
        log.info("series: %s", ", ".join(vc.label(s) for s in chosen))
        return chosen

    @task
    def train(one: dict[str, Any]) -> dict[str, Any]:
        vc.volcast("train", *vc.series_args(one))
        return one

    @task
    def promote(one: dict[str, Any]) -> dict[str, Any]:
        done = vc.volcast("promote", *vc.series_args(one), ok_codes=(0, REJECTED_EXIT_CODE))
        outcome = "rejected" if done.returncode == REJECTED_EXIT_CODE else "promoted"
        report = done.stdout.strip()
        for line in done.stdout.splitlines():  # "  report:   <path of the comparison report>"
            name, _, value = line.strip().partition(":")
            if name == "report" and Path(value.strip()).is_file():
                report += "\n\n" + Path(value.strip()).read_text(encoding="utf-8")
        return {**one, "outcome": outcome, "report": report}

    @task
    def notify(result: dict[str, Any]) -> str:
        subject = f"volcast {vc.label(result)}: challenger {result['outcome']}"
        log.info("notification: %s\n%s", subject, result["report"])
        return subject

    @task_group
    def one_series(one: dict[str, Any]) -> None:
        notify(promote(train(one)))

    one_series.expand(one=series())


volcast_train()
