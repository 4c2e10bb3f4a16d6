"""Champion/challenger promotion against the live registry (SPEC 10).

:func:`decide` is the pure rule; :func:`promote` loads ``@challenger`` and the live
``@champion`` from the registry, scores both with the same caller-supplied ``evaluate`` (so on
the same recent out-of-sample window), applies the rule, moves the ``champion`` alias only
when the challenger wins, records the decision on the challenger's run and model version, and
writes the markdown comparison report.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Metric, RunTag

from volcast.errors import ModelError, NotFoundError
from volcast.evaluation.report import PRIMARY_METRIC, ReportRow, comparison_report
from volcast.registry.loading import LoadedModel, load_model, resolve_alias
from volcast.registry.tracking import CHALLENGER, CHAMPION, client, mlflow_errors, model_name
from volcast.schemas import slugify

Score = float | Mapping[str, float]
"""QLIKE alone, or a metrics mapping that contains ``qlike``."""


def _metrics(score: Score, *, who: str) -> dict[str, float]:
    if isinstance(score, Mapping):
        if PRIMARY_METRIC not in score:
            raise ModelError(f"metrics of {who} lack {PRIMARY_METRIC!r}: {sorted(score)}")
        return {str(k): float(v) for k, v in score.items()}
    return {PRIMARY_METRIC: float(score)}


def decide(
    *,
    challenger_qlike: float,
    champion_qlike: float | None,
    best_baseline_qlike: float | None,
    margin: float,
    best_baseline_name: str = "best baseline",
) -> tuple[bool, str]:
    """Whether the challenger should become champion, and why (lower QLIKE is better).

    The challenger must be finite, no worse than the best baseline, and, when there is a
    champion, strictly below ``champion_qlike * (1 - margin)``. With no champion the first
    model that passes the baseline check is crowned.
    """
    if not math.isfinite(challenger_qlike):
        return False, f"challenger QLIKE is not finite ({challenger_qlike})"
    if best_baseline_qlike is not None and challenger_qlike > best_baseline_qlike:
        return False, (
            f"challenger QLIKE {challenger_qlike:.6g} is worse than the best baseline "
            f"{best_baseline_name} ({best_baseline_qlike:.6g})"
        )
    if champion_qlike is None:
        return True, f"no champion yet: challenger (QLIKE {challenger_qlike:.6g}) is crowned"
    if not math.isfinite(champion_qlike):
        return True, f"champion QLIKE is not finite ({champion_qlike}); challenger replaces it"
    threshold = champion_qlike * (1.0 - margin)
    improvement = (champion_qlike - challenger_qlike) / champion_qlike if champion_qlike else 0.0
    if challenger_qlike < threshold:
        return True, (
            f"challenger QLIKE {challenger_qlike:.6g} beats champion {champion_qlike:.6g} "
            f"by {improvement:.2%} (margin {margin:.2%})"
        )
    return False, (
        f"challenger QLIKE {challenger_qlike:.6g} does not beat champion {champion_qlike:.6g} "
        f"by the margin {margin:.2%} (improvement {improvement:.2%})"
    )


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of one promotion: what was compared, what won and where the report is."""

    promoted: bool
    reason: str
    model_name: str
    challenger_version: int
    previous_champion_version: int | None
    champion_version: int | None
    challenger_metrics: Mapping[str, float]
    champion_metrics: Mapping[str, float] | None
    best_baseline: str | None
    best_baseline_qlike: float | None
    report_path: Path

    @property
    def challenger_qlike(self) -> float:
        """The challenger's QLIKE on the comparison window."""
        return self.challenger_metrics[PRIMARY_METRIC]

    @property
    def champion_qlike(self) -> float | None:
        """The previous champion's QLIKE on the same window (None if there was none)."""
        return None if self.champion_metrics is None else self.champion_metrics[PRIMARY_METRIC]


def promote(
    *,
    symbol: str,
    interval: str,
    evaluate: Callable[[LoadedModel], Score],
    baselines: Mapping[str, Score],
    margin: float,
    report_dir: Path,
    window: str | None = None,
    plot: Path | None = None,
    tracking_uri: str | None = None,
) -> PromotionDecision:
    """Compare ``@challenger`` with the live ``@champion`` and move the alias if it wins.

    ``evaluate`` scores a loaded model on the recent out-of-sample window and is called for
    both, so they are measured on the same bars; ``baselines`` are the classical models'
    scores on that same window (the best one sets the floor). ``window`` describes it in the
    report. ``plot`` (forecast vs realized) is copied next to the report and embedded. The
    report goes to ``report_dir/comparison_<slug>_<interval>.md`` and is also logged on the
    challenger's run, with tags ``promotion_decision``/``promotion_reason`` and a
    ``promotion_decision`` metric (1 promoted, 0 not).
    """
    name = model_name(symbol, interval)
    context = {"symbol": symbol, "interval": interval, "model": name}
    challenger_version = resolve_alias(symbol, interval, CHALLENGER, tracking_uri=tracking_uri)
    if challenger_version is None:
        raise NotFoundError(f"no {CHALLENGER} registered for {name}: train first", **context)
    champion_version = resolve_alias(symbol, interval, CHAMPION, tracking_uri=tracking_uri)

    challenger = load_model(symbol, interval, version=challenger_version, tracking_uri=tracking_uri)
    challenger_metrics = _metrics(evaluate(challenger), who=f"challenger v{challenger_version}")
    baseline_metrics = {k: _metrics(v, who=f"baseline {k}") for k, v in baselines.items()}
    finite = {k: m[PRIMARY_METRIC] for k, m in baseline_metrics.items()}
    finite = {k: q for k, q in finite.items() if math.isfinite(q)}
    best_baseline = min(finite, key=finite.__getitem__) if finite else None
    best_qlike = finite[best_baseline] if best_baseline is not None else None

    champion_metrics: dict[str, float] | None = None
    if champion_version == challenger_version:
        promoted, reason = False, f"version {challenger_version} is already the champion"
    else:
        if champion_version is not None:
            champion = load_model(
                symbol, interval, version=champion_version, tracking_uri=tracking_uri
            )
            champion_metrics = _metrics(evaluate(champion), who=f"champion v{champion_version}")
        promoted, reason = decide(
            challenger_qlike=challenger_metrics[PRIMARY_METRIC],
            champion_qlike=None if champion_metrics is None else champion_metrics[PRIMARY_METRIC],
            best_baseline_qlike=best_qlike,
            margin=margin,
            best_baseline_name=best_baseline or "best baseline",
        )

    mlflow_client = client(tracking_uri)
    with mlflow_errors("recording the promotion decision", **context):
        if promoted:
            mlflow_client.set_registered_model_alias(name, CHAMPION, str(challenger_version))
        label = "promoted" if promoted else "rejected"
        decision_tags = {"promotion_decision": label, "promotion_reason": reason}
        run_tags = {**decision_tags, "promotion_champion_version": str(champion_version or "none")}
        run_metrics = {
            "promotion_decision": float(promoted),
            "promotion_challenger_qlike": challenger_metrics[PRIMARY_METRIC],
        }
        if champion_metrics is not None:
            run_metrics["promotion_champion_qlike"] = champion_metrics[PRIMARY_METRIC]
        now = int(time.time() * 1000)
        mlflow_client.log_batch(
            challenger.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in run_metrics.items()],
            tags=[RunTag(k, v) for k, v in run_tags.items()],
        )
        for key, value in decision_tags.items():
            mlflow_client.set_model_version_tag(name, str(challenger_version), key, value)

    rows = [ReportRow("challenger", f"{name} v{challenger_version}", challenger_metrics)]
    if champion_metrics is not None:
        rows.append(ReportRow("champion", f"{name} v{champion_version}", champion_metrics))
    rows += [ReportRow("baseline", k, m) for k, m in baseline_metrics.items()]
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    plot_link = None
    if plot is not None:
        plot = Path(plot)
        target = report_dir / plot.name
        if plot.resolve() != target.resolve():
            shutil.copyfile(plot, target)
        plot_link = plot.name
    markdown = comparison_report(
        title=f"Model comparison: {symbol} {interval}",
        promoted=promoted,
        reason=reason,
        rows=rows,
        margin=margin,
        window=window,
        plot=plot_link,
    )
    report_path = report_dir / f"comparison_{slugify(symbol)}_{interval}.md"
    report_path.write_text(markdown, encoding="utf-8")
    with mlflow_errors("logging the comparison report", **context):
        mlflow_client.log_artifact(challenger.run_id, str(report_path), artifact_path="promotion")

    return PromotionDecision(
        promoted=promoted,
        reason=reason,
        model_name=name,
        challenger_version=challenger_version,
        previous_champion_version=champion_version,
        champion_version=challenger_version if promoted else champion_version,
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        best_baseline=best_baseline,
        best_baseline_qlike=best_qlike,
        report_path=report_path,
    )
