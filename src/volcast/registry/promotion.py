"""Recording a promotion decision in the registry: the ``champion`` alias, tags, the report.

The decision itself is pure and lives in :mod:`volcast.evaluation.promotion`; composing the
two (load, score, decide, record) is ``volcast.pipeline.promotion``'s.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlflow.entities import Metric, RunTag

from volcast.evaluation.promotion import PromotionDecision
from volcast.registry.tracking import CHAMPION, client, mlflow_errors, model_name


def record_promotion(
    decision: PromotionDecision,
    *,
    symbol: str,
    interval: str,
    run_id: str,
    report: Path | None = None,
    tracking_uri: str | None = None,
) -> None:
    """Move ``@champion`` to the challenger if it was promoted and record the decision.

    The challenger's run (``run_id``) gets tags ``promotion_decision`` (promoted/rejected),
    ``promotion_reason`` and ``promotion_champion_version``, metrics ``promotion_decision``
    (1 or 0), ``promotion_challenger_qlike`` and ``promotion_champion_qlike``, and the
    ``report`` file under ``promotion/``; its model version gets the two decision tags.
    """
    name = model_name(symbol, interval)
    context = {"symbol": symbol, "interval": interval, "model": name}
    version = str(decision.challenger_version)
    mlflow_client = client(tracking_uri)
    with mlflow_errors("recording the promotion decision", **context):
        if decision.promoted:
            mlflow_client.set_registered_model_alias(name, CHAMPION, version)
        label = "promoted" if decision.promoted else "rejected"
        decision_tags = {"promotion_decision": label, "promotion_reason": decision.reason}
        champion = decision.previous_champion_version
        run_tags = {**decision_tags, "promotion_champion_version": str(champion or "none")}
        run_metrics = {
            "promotion_decision": float(decision.promoted),
            "promotion_challenger_qlike": decision.challenger_qlike,
        }
        if decision.champion_qlike is not None:
            run_metrics["promotion_champion_qlike"] = decision.champion_qlike
        now = int(time.time() * 1000)
        mlflow_client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in run_metrics.items()],
            tags=[RunTag(k, v) for k, v in run_tags.items()],
        )
        for key, value in decision_tags.items():
            mlflow_client.set_model_version_tag(name, version, key, value)
    if report is not None:
        with mlflow_errors("logging the comparison report", **context):
            mlflow_client.log_artifact(run_id, str(report), artifact_path="promotion")
