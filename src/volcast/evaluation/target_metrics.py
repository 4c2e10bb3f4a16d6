"""Scores of the other targets (SPEC 20): next-bar direction probabilities and log returns.

Direction forecasts are probabilities ``p`` that the next bar closes above this bar's close;
``outcome`` is 1 when it did, else 0. Return forecasts are next-bar log returns
``ln(close[t+1] / close[t])``. Every function takes aligned 1-d arrays and raises
:class:`~volcast.errors.ModelError` naming what was wrong with them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from volcast.errors import ModelError

#: probabilities are clipped to [EPS, 1 - EPS] in the log loss so one confident miss is finite
EPS = 1e-15


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype="float64")
    if arr.ndim != 1:
        raise ModelError(f"{name} must be 1-d, got shape {arr.shape}")
    if arr.size == 0:
        raise ModelError(f"cannot score an empty {name}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} holds {int(np.sum(~np.isfinite(arr)))} non-finite value(s)")
    return arr


def _direction(probability_up: ArrayLike, outcome: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = _vector(probability_up, "probability_up")
    y = _vector(outcome, "outcome")
    if p.shape != y.shape:
        raise ModelError(f"probability_up {p.shape} and outcome {y.shape} differ in shape")
    if np.any((p < 0.0) | (p > 1.0)):
        raise ModelError("probability_up must lie in [0, 1]")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ModelError("outcome must be 0 or 1")
    return p, y


def roc_auc(probability_up: ArrayLike, outcome: ArrayLike) -> float:
    """Area under the ROC curve: the chance that a random up bar gets a higher ``p`` than a
    random down bar (ties count half), by the Mann-Whitney rank sum. NaN with one class only."""
    p, y = _direction(probability_up, outcome)
    n_up = int(y.sum())
    n_down = y.size - n_up
    if n_up == 0 or n_down == 0:
        return math.nan
    ranks = stats.rankdata(p)
    return float((ranks[y == 1.0].sum() - n_up * (n_up + 1) / 2.0) / (n_up * n_down))


def calibration_table(
    probability_up: ArrayLike, outcome: ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Forecasts grouped into ``bins`` equal-width probability bins (empty bins dropped).

    Columns: ``bin_low``, ``bin_high``, ``count``, ``mean_probability`` (mean forecast in the
    bin) and ``observed_frequency`` (share of up moves in it), the points of a reliability
    diagram. The last bin is closed, so ``p = 1`` falls in it.
    """
    if bins < 1:
        raise ModelError(f"bins must be at least 1, got {bins}")
    p, y = _direction(probability_up, outcome)
    index = np.minimum((p * bins).astype("int64"), bins - 1)
    frame = pd.DataFrame({"bin": index, "p": p, "y": y})
    grouped = frame.groupby("bin", sort=True).agg(
        count=("p", "size"), mean_probability=("p", "mean"), observed_frequency=("y", "mean")
    )
    grouped.insert(0, "bin_high", (grouped.index + 1) / bins)
    grouped.insert(0, "bin_low", grouped.index / bins)
    return grouped.reset_index(drop=True)


def expanding_base_rate(outcome: ArrayLike, *, prior: float = 0.5) -> np.ndarray:
    """The share of up moves known before each bar: ``mean(outcome[:t])``, ``prior`` at t = 0.

    This is the no-skill forecast a direction model must not lose to: it uses only outcomes
    already realised when the forecast is made.
    """
    y = _vector(outcome, "outcome")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ModelError("outcome must be 0 or 1")
    seen = np.arange(y.size, dtype="float64")
    ups = np.concatenate([[0.0], np.cumsum(y)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(seen > 0, ups / np.maximum(seen, 1.0), prior)
    return rate


def direction_scores(
    probability_up: ArrayLike, outcome: ArrayLike, bins: int = 10
) -> dict[str, float]:
    """Log loss, Brier score and its Murphy decomposition, ROC AUC and accuracy.

    ``reliability - resolution + uncertainty`` equals the Brier score when forecasts are
    constant within each bin (Murphy 1973); with spread inside bins the difference is the
    within-bin variance term, small for 10 bins. ``accuracy`` calls up when ``p > 0.5``;
    ``base_rate`` is the share of up moves in the scored bars.
    """
    p, y = _direction(probability_up, outcome)
    clipped = np.clip(p, EPS, 1.0 - EPS)
    log_loss = float(-np.mean(y * np.log(clipped) + (1.0 - y) * np.log(1.0 - clipped)))
    brier = float(np.mean((p - y) ** 2))
    base = float(y.mean())
    table = calibration_table(p, y, bins)
    weights = table["count"].to_numpy(dtype="float64") / p.size
    reliability = float(
        np.sum(weights * (table["mean_probability"] - table["observed_frequency"]) ** 2)
    )
    resolution = float(np.sum(weights * (table["observed_frequency"] - base) ** 2))
    return {
        "log_loss": log_loss,
        "brier": brier,
        "reliability": reliability,
        "resolution": resolution,
        "uncertainty": base * (1.0 - base),
        "roc_auc": roc_auc(p, y),
        "accuracy": float(np.mean((p > 0.5) == (y == 1.0))),
        "base_rate": base,
        "n_forecasts": float(p.size),
    }


def r2_oos(
    forecast_return: ArrayLike, realized_return: ArrayLike, benchmark: ArrayLike | None = None
) -> float:
    """Out-of-sample R² (Campbell and Thompson 2008): ``1 - SSE(forecast) / SSE(benchmark)``.

    The benchmark defaults to a zero forecast (the random walk in prices); pass the
    expanding historical mean for Campbell and Thompson's original benchmark. Positive means
    the forecast beats the benchmark; NaN when the benchmark is perfect.
    """
    f = _vector(forecast_return, "forecast_return")
    r = _vector(realized_return, "realized_return")
    if f.shape != r.shape:
        raise ModelError(f"forecast_return {f.shape} and realized_return {r.shape} differ")
    b = np.zeros_like(r) if benchmark is None else _vector(benchmark, "benchmark")
    if b.shape != r.shape:
        raise ModelError(f"benchmark {b.shape} and realized_return {r.shape} differ")
    denominator = float(np.sum((r - b) ** 2))
    if denominator == 0.0:
        return math.nan
    return 1.0 - float(np.sum((r - f) ** 2)) / denominator


def return_scores(
    forecast_return: ArrayLike, realized_return: ArrayLike, close: ArrayLike | None = None
) -> dict[str, float]:
    """RMSE, MAE, R² against zero and directional accuracy of log-return forecasts.

    ``directional_accuracy`` is the share of bars with a non-zero forecast whose sign the
    realised return matched (NaN when every forecast is zero: a flat forecast calls nothing).
    With ``close`` (this bar's close) the implied next close ``close * exp(forecast)`` is
    scored too: ``rmse_close``, ``mae_close`` and ``mape_close`` (a fraction).
    """
    f = _vector(forecast_return, "forecast_return")
    r = _vector(realized_return, "realized_return")
    if f.shape != r.shape:
        raise ModelError(f"forecast_return {f.shape} and realized_return {r.shape} differ")
    called = f != 0.0
    scores = {
        "rmse": float(np.sqrt(np.mean((r - f) ** 2))),
        "mae": float(np.mean(np.abs(r - f))),
        "r2_oos": r2_oos(f, r),
        "directional_accuracy": (
            float(np.mean(np.sign(f[called]) == np.sign(r[called]))) if called.any() else math.nan
        ),
        "n_forecasts": float(f.size),
    }
    if close is not None:
        c = _vector(close, "close")
        if c.shape != f.shape:
            raise ModelError(f"close {c.shape} and forecast_return {f.shape} differ")
        if np.any(c <= 0.0):
            raise ModelError("close must be strictly positive")
        predicted, actual = c * np.exp(f), c * np.exp(r)
        scores |= {
            "rmse_close": float(np.sqrt(np.mean((actual - predicted) ** 2))),
            "mae_close": float(np.mean(np.abs(actual - predicted))),
            "mape_close": float(np.mean(np.abs(actual - predicted) / actual)),
        }
    return scores
