"""``volcast_monitor`` (every 15 minutes): trigger ``volcast_train`` for the series that need it.

Reads each series' live-loop files (``monitoring/<slug>/<interval>/state.json`` and
``events.jsonl`` under the data directory; docs/monitoring.md) and triggers one
``volcast_train`` run, with that series as conf, for exactly the series whose state says a
retrain is due or requested, honouring ``monitoring.cooldown_bars``
(:func:`volcast_common.retrain_decision`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import volcast_common as vc
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, get_current_context, task

log = logging.getLogger("volcast.airflow")
PARAMS = vc.read_params()
INSTRUMENTS = vc.instruments(PARAMS)
COOLDOWN_BARS = int((PARAMS.get("monitoring") or {}).get("cooldown_bars", 168))


@dag(
    dag_id="volcast_monitor",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["volcast", "monitor"],
    default_args=vc.default_args(timeout_minutes=10),
    doc_md=__doc__,
)
def volcast_monitor() -> None:
    @task
    def due() -> list[dict[str, Any]]:
        """One ``TriggerDagRunOperator`` kwargs set per series due for a retrain."""
        context = get_current_context()
        chosen = vc.series_for_run(context["dag_run"].conf, INSTRUMENTS)
        root = vc.data_dir()
        out = []
        for one in chosen:
            needed, why = vc.retrain_decision(one, root, cooldown_bars=COOLDOWN_BARS)
            log.info("%s: %s (%s)", vc.label(one), "retrain" if needed else "no retrain", why)
            if needed:
                run_id = (
                    f"monitor__{vc.slug(one['symbol'])}_{one['interval']}__"
                    f"{context['dag_run'].run_id}"
                )
                vc.record_trigger(one, root, run_id)
                out.append({"conf": one, "trigger_run_id": run_id})
        return out

    TriggerDagRunOperator.partial(
        task_id="trigger_train", trigger_dag_id="volcast_train", wait_for_completion=False
    ).expand_kwargs(due())


volcast_monitor()
