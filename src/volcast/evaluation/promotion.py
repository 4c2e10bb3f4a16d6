"""The champion/challenger promotion decision (SPEC 10), pure: scores in, decision out.

:func:`decide` is the rule; :func:`judge` applies it to the scores of the challenger, the
live champion and the baselines on one recent out-of-sample window and returns a
:class:`PromotionDecision`; :func:`decision_report` renders it as the markdown comparison
report. Loading the models, moving the ``champion`` alias and recording the decision are the
registry's; composing the two is ``volcast.pipeline.promotion``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from volcast.errors import ModelError
from volcast.evaluation.report import PRIMARY_METRIC, ReportRow, comparison_report

Score = float | Mapping[str, float]
"""QLIKE alone, or a metrics mapping that contains ``qlike``."""


def as_metrics(score: Score, *, who: str) -> dict[str, float]:
    """``score`` as a metrics mapping holding ``qlike`` (a bare float is the QLIKE)."""
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
    champion_degraded: bool = False,
) -> tuple[bool, str]:
    """Whether the challenger should become champion, and why (lower QLIKE is better).

    The challenger must be finite, no worse than the best baseline, and, when there is a
    champion, strictly below ``champion_qlike * (1 - margin)``. With no champion the first
    model that passes the baseline check is crowned. When the live monitor found the
    champion degrading in service (``champion_degraded``: its inputs drifted or its
    forecasts decayed), the burden of proof turns: the
    retrained challenger replaces it unless it is worse than ``champion_qlike * (1 + margin)``
    (a refit of the same specification on the newer bars ties, and the fresher fit wins).
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
    improvement = (champion_qlike - challenger_qlike) / champion_qlike if champion_qlike else 0.0
    if champion_degraded:
        if challenger_qlike <= champion_qlike * (1.0 + margin):
            return True, (
                "the monitor found the champion degrading in service; the retrained "
                f"challenger (QLIKE {challenger_qlike:.6g}) is no worse than it "
                f"({champion_qlike:.6g}, improvement {improvement:.2%}, margin {margin:.2%}) "
                "and replaces it"
            )
        return False, (
            "the monitor found the champion degrading in service, but the retrained "
            f"challenger (QLIKE {challenger_qlike:.6g}) is worse than it "
            f"({champion_qlike:.6g}) beyond the margin {margin:.2%}"
        )
    threshold = champion_qlike * (1.0 - margin)
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
    """The outcome of one promotion: what was compared, what won and where the report is.

    ``report_path`` is set once the report is written (None before).
    """

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
    baseline_metrics: Mapping[str, Mapping[str, float]]
    margin: float
    report_path: Path | None = None

    @property
    def challenger_qlike(self) -> float:
        """The challenger's QLIKE on the comparison window."""
        return self.challenger_metrics[PRIMARY_METRIC]

    @property
    def champion_qlike(self) -> float | None:
        """The previous champion's QLIKE on the same window (None if there was none)."""
        return None if self.champion_metrics is None else self.champion_metrics[PRIMARY_METRIC]


def judge(
    *,
    model_name: str,
    challenger_version: int,
    challenger: Score,
    champion_version: int | None,
    champion: Score | None,
    baselines: Mapping[str, Score],
    margin: float,
    champion_degraded: bool = False,
) -> PromotionDecision:
    """Apply :func:`decide` to scores on one window; the best finite baseline sets the floor.

    ``champion`` is the live champion's score (None when there is none, or when the
    challenger already is the champion: then nothing moves).
    """
    challenger_metrics = as_metrics(challenger, who=f"challenger v{challenger_version}")
    baseline_metrics = {k: as_metrics(v, who=f"baseline {k}") for k, v in baselines.items()}
    finite = {k: m[PRIMARY_METRIC] for k, m in baseline_metrics.items()}
    finite = {k: q for k, q in finite.items() if math.isfinite(q)}
    best_baseline = min(finite, key=finite.__getitem__) if finite else None
    best_qlike = finite[best_baseline] if best_baseline is not None else None
    champion_metrics: dict[str, float] | None = None
    if champion_version == challenger_version:
        promoted, reason = False, f"version {challenger_version} is already the champion"
    else:
        if champion is not None:
            champion_metrics = as_metrics(champion, who=f"champion v{champion_version}")
        promoted, reason = decide(
            challenger_qlike=challenger_metrics[PRIMARY_METRIC],
            champion_qlike=None if champion_metrics is None else champion_metrics[PRIMARY_METRIC],
            best_baseline_qlike=best_qlike,
            margin=margin,
            best_baseline_name=best_baseline or "best baseline",
            champion_degraded=champion_degraded,
        )
    return PromotionDecision(
        promoted=promoted,
        reason=reason,
        model_name=model_name,
        challenger_version=challenger_version,
        previous_champion_version=champion_version,
        champion_version=challenger_version if promoted else champion_version,
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        best_baseline=best_baseline,
        best_baseline_qlike=best_qlike,
        baseline_metrics=baseline_metrics,
        margin=margin,
    )


def decision_report(
    decision: PromotionDecision, *, title: str, window: str | None = None, plot: str | None = None
) -> str:
    """The markdown comparison report of ``decision`` (challenger, champion, baselines)."""
    name = decision.model_name
    rows = [
        ReportRow(
            "challenger", f"{name} v{decision.challenger_version}", decision.challenger_metrics
        )
    ]
    if decision.champion_metrics is not None:
        rows.append(
            ReportRow(
                "champion",
                f"{name} v{decision.previous_champion_version}",
                decision.champion_metrics,
            )
        )
    rows += [ReportRow("baseline", k, m) for k, m in decision.baseline_metrics.items()]
    return comparison_report(
        title=title,
        promoted=decision.promoted,
        reason=decision.reason,
        rows=rows,
        margin=decision.margin,
        window=window,
        plot=plot,
    )
