"""Forecast losses and tests on variance forecasts (SPEC 8).

Every function takes realised variance ``y`` and forecast variance ``f`` (strictly positive,
same units). QLIKE (Patton 2011) is the primary loss: it ranks forecasts consistently even
when ``y`` is a noisy proxy of the true variance, which a per-bar estimator always is.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from volcast.errors import ModelError

FORECAST: Final = "forecast_variance"
REALIZED: Final = "realized_variance"
CURRENT: Final = "current_variance"


def _pair(y: ArrayLike, f: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype="float64")
    f_arr = np.asarray(f, dtype="float64")
    if y_arr.shape != f_arr.shape:
        raise ModelError(f"realised {y_arr.shape} and forecast {f_arr.shape} differ in shape")
    if y_arr.size == 0:
        raise ModelError("cannot score an empty set of forecasts")
    if np.any(~np.isfinite(y_arr) | (y_arr <= 0.0)) or np.any(~np.isfinite(f_arr) | (f_arr <= 0.0)):
        raise ModelError("variances must be strictly positive and finite to be scored")
    return y_arr, f_arr


def qlike_losses(y: ArrayLike, f: ArrayLike) -> np.ndarray:
    """Per-observation QLIKE ``y/f - ln(y/f) - 1`` (0 for a perfect forecast, else > 0)."""
    y_arr, f_arr = _pair(y, f)
    ratio = y_arr / f_arr
    losses: np.ndarray = ratio - np.log(ratio) - 1.0
    return losses


def qlike(y: ArrayLike, f: ArrayLike) -> float:
    """Mean QLIKE loss on variance."""
    return float(np.mean(qlike_losses(y, f)))


def rmse_vol(y: ArrayLike, f: ArrayLike) -> float:
    """Root mean squared error on volatility (square roots of the variances)."""
    y_arr, f_arr = _pair(y, f)
    return float(np.sqrt(np.mean((np.sqrt(y_arr) - np.sqrt(f_arr)) ** 2)))


def mae_vol(y: ArrayLike, f: ArrayLike) -> float:
    """Mean absolute error on volatility."""
    y_arr, f_arr = _pair(y, f)
    return float(np.mean(np.abs(np.sqrt(y_arr) - np.sqrt(f_arr))))


def mape(y: ArrayLike, f: ArrayLike) -> float:
    """Mean absolute percentage error on volatility, as a fraction (0.1 = 10 %)."""
    y_arr, f_arr = _pair(y, f)
    vol = np.sqrt(y_arr)
    return float(np.mean(np.abs(vol - np.sqrt(f_arr)) / vol))


def r2_logvar(y: ArrayLike, f: ArrayLike) -> float:
    """Out-of-sample R² on log variance: ``1 - SS_res / SS_tot`` around the mean of ``log y``.

    NaN when ``log y`` is constant.
    """
    y_arr, f_arr = _pair(y, f)
    log_y, log_f = np.log(y_arr), np.log(f_arr)
    ss_tot = float(np.sum((log_y - log_y.mean()) ** 2))
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((log_y - log_f) ** 2)) / ss_tot


def directional_accuracy(y: ArrayLike, f: ArrayLike, current: ArrayLike) -> float:
    """Share of bars where the forecast moves from the current variance the way ``y`` did.

    ``current`` is the variance of the bar the forecast is made at; a move is up, down or
    none (equal), and the forecast scores when its move equals the realised one.
    """
    y_arr, f_arr = _pair(y, f)
    cur = np.asarray(current, dtype="float64")
    if cur.shape != y_arr.shape:
        raise ModelError(f"current {cur.shape} and realised {y_arr.shape} differ in shape")
    return float(np.mean(np.sign(f_arr - cur) == np.sign(y_arr - cur)))


def skill(loss_model: float, loss_ref: float) -> float:
    """Skill score ``1 - loss_model / loss_ref``: > 0 beats the reference, 1 is perfect."""
    if loss_ref == 0.0:
        return math.nan
    return 1.0 - loss_model / loss_ref


def newey_west_lag(n: int, *, horizon: int = 1) -> int:
    """Bartlett bandwidth: ``floor(4 (n/100)^(2/9))`` and at least ``horizon - 1``."""
    bandwidth = math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))
    return max(horizon - 1, int(bandwidth))


def diebold_mariano(
    loss_a: ArrayLike, loss_b: ArrayLike, *, horizon: int = 1
) -> tuple[float, float]:
    """Diebold-Mariano test of equal expected loss; returns ``(statistic, two-sided p)``.

    The loss differential ``d = loss_a - loss_b`` is averaged and divided by its Newey-West
    (Bartlett kernel, :func:`newey_west_lag`) long-run standard error, so serial
    correlation in the losses, usual for volatility, does not inflate the statistic. The
    statistic is negative when ``a`` has the lower loss; the p-value uses Student's t with
    ``n - 1`` degrees of freedom. Identical losses give ``(0.0, 1.0)``.
    """
    a = np.asarray(loss_a, dtype="float64")
    b = np.asarray(loss_b, dtype="float64")
    if a.shape != b.shape or a.ndim != 1:
        raise ModelError(f"loss series must be 1-d and of equal length, got {a.shape}, {b.shape}")
    n = a.size
    if n < 3:
        raise ModelError(f"the Diebold-Mariano test needs at least 3 losses, got {n}")
    d = a - b
    mean = float(d.mean())
    centred = d - mean
    lags = min(newey_west_lag(n, horizon=horizon), n - 1)
    long_run = float(centred @ centred) / n
    for k in range(1, lags + 1):
        weight = 1.0 - k / (lags + 1.0)
        long_run += 2.0 * weight * float(centred[k:] @ centred[:-k]) / n
    if long_run <= 0.0:
        return (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    stat = mean / math.sqrt(long_run / n)
    p_value = float(2.0 * stats.t.sf(abs(stat), df=n - 1))
    return stat, p_value


def compute_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """Every forecast metric of one model's out-of-sample rows.

    ``frame`` has ``forecast_variance`` and ``realized_variance``, and optionally
    ``current_variance`` (the variance of the bar the forecast is made at) for
    ``directional_accuracy``, which is NaN without it. Skill scores need other models and
    are added by the backtest.
    """
    missing = [c for c in (FORECAST, REALIZED) if c not in frame.columns]
    if missing:
        raise ModelError(f"prediction frame lacks the column(s) {missing}")
    y = frame[REALIZED].to_numpy(dtype="float64")
    f = frame[FORECAST].to_numpy(dtype="float64")
    direction = (
        directional_accuracy(y, f, frame[CURRENT].to_numpy(dtype="float64"))
        if CURRENT in frame.columns
        else math.nan
    )
    return {
        "qlike": qlike(y, f),
        "rmse_vol": rmse_vol(y, f),
        "mae_vol": mae_vol(y, f),
        "r2_logvar": r2_logvar(y, f),
        "mape": mape(y, f),
        "directional_accuracy": direction,
        "n_forecasts": float(len(frame)),
    }
