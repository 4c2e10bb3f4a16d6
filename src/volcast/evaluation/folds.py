"""The one walk-forward fold loop: the refit schedule and how a fitted model forecasts a block.

Every place that forecasts out of sample (the backtest, the champion's refit at promotion,
the service's forecast of the latest bar) goes through :func:`predict_block`: a sequential
model (EWMA, GARCH, a combination holding them) carries state row to row, so it runs through
the whole history up to the block's end and the block's rows are kept; a row-wise model
predicts the block's rows alone. :func:`refit_forecasts` is the expanding-window loop itself.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from volcast.config import TrainParams
from volcast.errors import ModelError


class Forecaster(Protocol):
    """Anything that predicts per-row variances from a feature frame."""

    def predict(self, X: pd.DataFrame) -> Any: ...


def fold_starts(n: int, *, train: TrainParams, horizon: int) -> list[int]:
    """Row indices where the walk-forward refits (each serves the block up to the next)."""
    first = train.min_train_bars + horizon
    if train.max_test_bars is not None:
        first = max(first, n - train.max_test_bars)
    if first >= n:
        raise ModelError(
            f"{n} labelled rows leave no out-of-sample bar after min_train_bars="
            f"{train.min_train_bars} and a purge gap of {horizon}; lower min_train_bars or"
            " supply more history"
        )
    return list(range(first, n, train.refit_every))


def predict_block(model: Forecaster, X: pd.DataFrame, start: int, end: int) -> np.ndarray:
    """Forecasts of rows ``start:end`` of ``X`` by a fitted model, reading no row after ``end``.

    Sequential models run through ``X.iloc[:end]`` in time order; others score the block only.
    """
    if getattr(model, "sequential", False):
        out = model.predict(X.iloc[:end])
    else:
        out = model.predict(X.iloc[start:end])
        start, end = 0, end - start
    values = out.to_numpy() if isinstance(out, pd.Series | pd.DataFrame) else out
    return np.asarray(values, dtype="float64").reshape(-1)[start:end]


def refit_forecasts(
    model: Any, X: pd.DataFrame, y: pd.Series, *, starts: list[int], horizon: int, first: int
) -> np.ndarray:
    """Out-of-sample forecasts from row ``first`` on, refitting ``model`` at every fold start.

    The model serving the block from ``start`` is fitted on rows before ``start - horizon``
    (the purge gap); it is refitted in place fold after fold, as the backtest does.
    """
    n = len(X)
    blocks = []
    for start, end in zip(starts, [*starts[1:], n], strict=True):
        model.fit(X.iloc[: start - horizon], y.iloc[: start - horizon])
        if end <= first:
            continue
        blocks.append(predict_block(model, X, start, end)[max(first - start, 0) :])
    return np.asarray(np.concatenate(blocks), dtype="float64")
