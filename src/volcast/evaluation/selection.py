"""Choosing the model to promote from walk-forward metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from volcast.errors import ModelError


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
