"""Promotion of a return/direction ``@challenger`` (SPEC 20; the stage ``promote``).

The challenger's primary loss (Brier for direction, MSE for return) on the last
``promotion.window_bars`` out-of-sample bars of its stored walk-forward must be no worse than
the best baseline's there, and, with ``promotion.margin``, than the current champion's model
on the same bars (the champion's model is a candidate of the same walk-forward).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from volcast.config import Params
from volcast.errors import NotFoundError
from volcast.evaluation.target_backtest import TargetBacktestResult, window_losses
from volcast.pipeline.targets import target_backtest_paths
from volcast.series import Layout
from volcast.storage import Storage


@dataclass(frozen=True)
class TargetDecision:
    """The outcome of one promotion of a return/direction challenger."""

    promoted: bool
    reason: str
    model_name: str
    challenger_version: int
    champion_version: int | None
    losses: dict[str, float]


def promote_target(
    *, storage: Storage, symbol: str, interval: str, params: Params, tracking_uri: str | None = None
) -> tuple[TargetDecision, str]:
    """Promote the target's ``@challenger`` if it is no worse than the champion (see module)."""
    from volcast.registry import CHALLENGER, CHAMPION
    from volcast.registry.targets import record_target_promotion, target_alias, target_model_name

    kind = params.target.kind
    layout = Layout(symbol, interval)
    predictions_path, meta_path = target_backtest_paths(layout, kind)
    name = target_model_name(symbol, interval, kind)
    found = target_alias(symbol, interval, kind, CHALLENGER, tracking_uri=tracking_uri)
    if found is None or not storage.exists(meta_path):
        raise NotFoundError(
            f"no @challenger of {name}: run `volcast train` with target.kind {kind} first",
            symbol=symbol,
            interval=interval,
        )
    version, tags = found
    meta = storage.read_json(meta_path)
    champion = target_alias(symbol, interval, kind, CHAMPION, tracking_uri=tracking_uri)
    predictions = storage.read_parquet(predictions_path)
    result = TargetBacktestResult(
        kind=kind,
        predictions=predictions,
        metrics=pd.DataFrame(),
        selected=str(meta["challenger"]),
        best_baseline=tags.get("best_baseline", ""),
        duration_seconds=0.0,
        folds=pd.DataFrame(),
    )
    losses = window_losses(result, window_bars=params.promotion.window_bars)
    challenger_loss = float(losses[result.selected])
    baseline_loss = float(losses.get(result.best_baseline, np.inf))
    loss_name = losses.name
    champion_version = None if champion is None else champion[0]
    champion_model = None if champion is None else champion[1].get("model")
    if champion_version == version:
        promoted, reason = False, f"v{version} is already @champion"
    elif challenger_loss > baseline_loss:
        promoted = False
        reason = (
            f"{loss_name} {challenger_loss:.6g} is worse than the best baseline "
            f"{result.best_baseline}'s {baseline_loss:.6g}"
        )
    elif champion is None:
        promoted, reason = True, f"no champion yet; {loss_name} {challenger_loss:.6g}"
    elif champion_model is not None and champion_model in losses.index:
        champion_loss = float(losses[champion_model])
        limit = champion_loss * (1.0 - params.promotion.margin)
        promoted = challenger_loss <= limit
        verdict = "beats" if promoted else "does not beat"
        reason = (
            f"{loss_name} {challenger_loss:.6g} {verdict} champion v{champion_version} "
            f"({champion_model}) {champion_loss:.6g} by margin {params.promotion.margin}"
        )
    else:
        promoted = True
        reason = f"champion's model {champion_model!r} is not a candidate any more"
    window = params.promotion.window_bars
    report = (
        f"## Promotion {name} v{version}\n\n{'promoted' if promoted else 'rejected'}: {reason}\n\n"
        f"{loss_name} on the last {window} out-of-sample bars:\n\n"
        + "\n".join(f"- {m}: {v:.6g}" for m, v in losses.items())
        + "\n"
    )
    report_path = f"reports/promotion/{layout.slug}_{interval}_{kind}.md"
    storage.write_bytes(report_path, report.encode("utf-8"))
    with tempfile.TemporaryDirectory(prefix="volcast-promote-") as tmp:
        local = Path(tmp) / "promotion.md"
        local.write_text(report, encoding="utf-8")
        record_target_promotion(
            symbol=symbol,
            interval=interval,
            kind=kind,
            version=version,
            promoted=promoted,
            reason=reason,
            run_id=str(meta["run_id"]),
            metrics={f"promotion_challenger_{loss_name}": challenger_loss},
            report=local,
            tracking_uri=tracking_uri,
        )
    decision = TargetDecision(
        promoted=promoted,
        reason=reason,
        model_name=name,
        challenger_version=version,
        champion_version=version if promoted else champion_version,
        losses={str(k): float(v) for k, v in losses.items()},
    )
    return decision, storage.url(report_path)
