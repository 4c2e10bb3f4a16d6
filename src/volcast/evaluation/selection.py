"""Choosing models from walk-forward results: the selected model and the challenger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from volcast.errors import ModelError
from volcast.evaluation.metrics import compute_metrics
from volcast.models import BASELINES
from volcast.schemas import TIMESTAMP

if TYPE_CHECKING:
    from volcast.evaluation.backtest import BacktestResult


def best_of(metrics: pd.DataFrame, names: Sequence[str], *, loss: str = "qlike") -> str | None:
    """The model among ``names`` (rows of ``metrics``) with the lowest ``loss``; None if none.

    Ties go to the model listed first in ``names``.
    """
    present = [n for n in names if n in metrics.index]
    if not present:
        return None
    losses = metrics.loc[present, loss].astype("float64")
    if losses.isna().all():
        raise ModelError(f"no model among {present} has a {loss} value to compare")
    return str(losses.idxmin())


def select_model(
    metrics: pd.DataFrame, *, baselines: Sequence[str], loss: str = "qlike"
) -> tuple[str, str | None]:
    """``(selected, best_baseline)``: the lowest-loss model overall and among ``baselines``.

    Baselines compete too, so the selected model is never worse than the best baseline on
    the scored window; on a tie the baseline wins (the simpler model).
    """
    if metrics.empty:
        raise ModelError("no model was scored; nothing to select")
    best_baseline = best_of(metrics, baselines, loss=loss)
    order = [*([best_baseline] if best_baseline else []), *map(str, metrics.index)]
    selected = best_of(metrics, list(dict.fromkeys(order)), loss=loss)
    if selected is None:
        raise ModelError("no model was scored; nothing to select")
    return selected, best_baseline


def window_metrics(predictions: pd.DataFrame, *, window_bars: int) -> pd.DataFrame:
    """Every model's metrics on the last ``window_bars`` out-of-sample bars (the same bars).

    ``predictions`` is a backtest's long frame (:attr:`BacktestResult.predictions`).
    """
    stamps = predictions[TIMESTAMP].drop_duplicates().sort_values()
    recent = predictions[predictions[TIMESTAMP].isin(set(stamps.iloc[-window_bars:]))]
    rows = {
        str(name): compute_metrics(group) for name, group in recent.groupby("model", sort=False)
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def choose_challenger(result: BacktestResult, *, window_bars: int) -> str:
    """The candidate with the best walk-forward QLIKE that is also no worse than the best
    baseline on the recent promotion window.

    Selection over the whole out-of-sample period alone could pick a model that a baseline
    beats on the recent window, which promotion would then reject even as a first model; this
    keeps the challenger eligible. A baseline always qualifies, so there is always one.
    """
    recent = window_metrics(result.predictions, window_bars=window_bars)
    baselines = [b for b in BASELINES if b in recent.index]
    floor = float(recent.loc[baselines, "qlike"].min()) if baselines else float("inf")
    ranked = result.metrics["qlike"].astype("float64").sort_values(kind="stable")
    for name in ranked.index:
        if float(recent.loc[name, "qlike"]) <= floor:
            return str(name)
    return result.selected
