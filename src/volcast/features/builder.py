"""The one feature builder shared by training and serving (SPEC 3).

Features of bar ``t`` use bars ``<= t`` only. Every window is counted in bars, not in
calendar time (FX weekend gaps simply join Friday to Sunday), except the calendar features,
which read the bar's UTC timestamp. ``rv`` is the per-bar variance of the target's estimator
floored at the target's floor (``target.floor`` as given: a resolved, fixed floor; see
:func:`~volcast.features.target.resolve_target`), so ``log_rv`` is the log of what the target
sums.

Columns, in :attr:`FeatureBuilder.feature_names` order:

- ``log_return``; ``var_cc``, ``var_parkinson``, ``var_gk``, ``var_rs`` (unfloored); ``log_rv``;
- ``log_rv_lag_k`` for ``k = 1 .. lags``: ``log_rv`` of bar ``t-k``;
- for each window ``w`` in ``windows`` and ``weekly_window``: ``log_rv_mean_w``,
  ``log_rv_std_w``, ``log_rv_min_w``, ``log_rv_max_w`` and ``ret_std_w`` (std of log returns),
  all over bars ``t-w+1 .. t``;
- for each ``w`` in ``har_windows``: ``har_rv_w`` (mean rv over the last ``w`` bars) and
  ``log_har_rv_w``;
- when ``calendar``: ``hour_sin``, ``hour_cos`` (fractional UTC hour), ``dow_sin``,
  ``dow_cos``, ``month_sin``, ``month_cos``, and the integers ``hour`` and ``dow`` (as floats);
- when the target's ``kind`` is ``return`` or ``direction`` (SPEC 20): ``log_return_lag_k``
  for ``k = 1 ..`` :data:`RETURN_LAGS` and ``ret_mean_w`` (mean log return over the same
  windows); a variance target's columns are unchanged;
- when ``seasonal_profile``: ``seasonal_log_rv``, the mean ``log_rv`` of the last
  :data:`SEASONAL_OBSERVATIONS` earlier bars with the same hour of day (same day of week for
  daily or longer bars), looking back at most ``SEASONAL_OBSERVATIONS`` seasonal cycles of
  bars. The bound is in bars so that a fixed tail of history reproduces it exactly.

Standard deviations use ``ddof=1``, so every statistics window must span at least 2 bars.

Training calls :meth:`FeatureBuilder.transform` (pandas rolling windows over every bar);
serving calls :meth:`FeatureBuilder.transform_last`, which runs the same code on the last
:attr:`FeatureBuilder.required_history` bars and computes the window statistics and the
seasonal profile of the last bar alone with numpy (about a millisecond). Both paths agree to
floating-point rounding (relative 1e-9 is asserted by the tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pandas as pd

from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError, DataQualityError
from volcast.features.estimators import (
    check_bars,
    estimator_arrays,
    estimator_column,
    floor_variance,
    realized_variance,
)
from volcast.features.news import join_news
from volcast.features.target import (
    CLOSE,
    NEXT_RETURN,
    build_kind_target,
    build_target,
    next_log_return,
    resolve_target,
)
from volcast.schemas import TIMESTAMP, interval_seconds

SEASONAL_OBSERVATIONS: Final = 20
"""Same-hour (or same-weekday) bars averaged by ``seasonal_log_rv``."""

ESTIMATOR_FEATURES: Final = ("var_cc", "var_parkinson", "var_gk", "var_rs")
RETURN_LAGS: Final = 5
"""Lagged log returns added for the return and direction targets."""
_DAY: Final = 86400


def _unique(values: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(values))


def _sample_std(window: np.ndarray) -> float:
    return float(np.std(window, ddof=1))


_ROLLING_LAST: Final[dict[str, Callable[[np.ndarray], Any]]] = {
    "mean": np.mean,
    "std": _sample_std,
    "min": np.min,
    "max": np.max,
}


class _RowWriter:
    """Writes named feature columns into the rows of a preallocated matrix.

    With ``last_only`` the window statistics are computed for the last bar alone (numpy on
    the final window: the serving path); otherwise for every bar with pandas' rolling
    windows. Both give a NaN when the window holds a NaN or is not full.
    """

    def __init__(self, matrix: np.ndarray, names: list[str], *, last_only: bool) -> None:
        self.matrix = matrix
        self.rows = {name: i for i, name in enumerate(names)}
        self.last_only = last_only

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.matrix[self.rows[name]] = values

    def lagged(self, name: str, values: np.ndarray, lag: int) -> None:
        """Row ``name`` = ``values`` shifted ``lag`` bars later (the first ``lag`` stay NaN)."""
        if lag < len(values):
            self.matrix[self.rows[name], lag:] = values[: len(values) - lag]

    def rolling(self, name: str, values: np.ndarray, window: int, stat: str) -> np.ndarray:
        """Row ``name`` = ``stat`` over the last ``window`` bars; returns the row."""
        row: np.ndarray = self.matrix[self.rows[name]]
        if not self.last_only:
            rolled = getattr(pd.Series(values).rolling(window, min_periods=window), stat)()
            row[:] = rolled.to_numpy()
        elif len(values) >= window:
            row[-1] = _ROLLING_LAST[stat](values[-window:])
        return row


CALENDAR_FEATURES: Final = frozenset(
    {"hour", "hour_sin", "hour_cos", "dow", "dow_sin", "dow_cos", "month_sin", "month_cos"}
)
"""Features that only encode the bar's calendar position (plus ``seasonal_log_rv``'s key):
their distribution over any short window differs from training's by construction, so input
drift is not measured on them."""


class FeatureBuilder:
    """Turns clean bars into one feature row per bar; serving calls :meth:`transform_last`.

    ``interval`` (``1h``, ``1d``...) decides whether the seasonal profile keys on the hour of
    day (intraday bars) or the day of week (daily and longer bars).
    """

    def __init__(self, *, features: FeatureParams, target: TargetParams, interval: str) -> None:
        self.features = features
        self.target = target
        self.interval = interval
        self._interval_seconds = interval_seconds(interval)
        self._rv_column = estimator_column(target.estimator)
        self._stat_windows = _unique((*features.windows, features.weekly_window))
        self._har_windows = _unique(features.har_windows)
        too_short = [w for w in self._stat_windows if w < 2]
        if too_short:
            raise ConfigError(
                f"feature windows {too_short} are shorter than 2 bars; a rolling std needs 2",
                check="features.windows",
            )
        if any(w < 1 for w in self._har_windows):
            raise ConfigError(
                f"HAR windows {list(self._har_windows)} must be at least 1 bar",
                check="features.har_windows",
            )

    @property
    def daily(self) -> bool:
        """Whether bars are a day or longer (hour features are then constant)."""
        return self._interval_seconds >= _DAY

    @property
    def seasonal_lookback(self) -> int:
        """Most bars back that ``seasonal_log_rv`` looks: its observations times one cycle."""
        cycle = 7 * _DAY if self.daily else _DAY
        return SEASONAL_OBSERVATIONS * max(1, math.ceil(cycle / self._interval_seconds))

    @property
    def feature_names(self) -> list[str]:
        """Feature columns in their stable order."""
        names = ["log_return", *ESTIMATOR_FEATURES, "log_rv"]
        names += [f"log_rv_lag_{k}" for k in range(1, self.features.lags + 1)]
        for w in self._stat_windows:
            names += [f"log_rv_{stat}_{w}" for stat in ("mean", "std", "min", "max")]
            names.append(f"ret_std_{w}")
        names += [f"har_rv_{w}" for w in self._har_windows]
        names += [f"log_har_rv_{w}" for w in self._har_windows]
        if self.features.calendar:
            names += ["hour_sin", "hour_cos", "dow_sin", "dow_cos", "month_sin", "month_cos"]
            names += ["hour", "dow"]
        if self.features.seasonal_profile:
            names.append("seasonal_log_rv")
        if self.return_features:
            names += [f"log_return_lag_{k}" for k in range(1, RETURN_LAGS + 1)]
            names += [f"ret_mean_{w}" for w in self._stat_windows]
        return names

    @property
    def return_features(self) -> bool:
        """Whether the return-target columns are built (a return or direction target)."""
        return self.target.kind != "variance"

    @property
    def warmup_bars(self) -> int:
        """Rows before every feature is complete: rows from this index on have no NaN.

        Assumes bars without missing prices; a close-to-close ``rv`` is NaN on the first bar
        and so needs one bar more.
        """
        first = 1 if self._rv_column == "var_cc" else 0
        needs = [1, first + self.features.lags]
        needs += [first + w - 1 for w in self._stat_windows]
        needs += list(self._stat_windows)  # ret_std_w: returns start on the second bar
        needs += [first + w - 1 for w in self._har_windows]
        if self.features.seasonal_profile:
            needs.append(first + self.seasonal_lookback)
        if self.return_features:
            needs.append(1 + RETURN_LAGS)
        return max(needs)

    @property
    def required_history(self) -> int:
        """Bars :meth:`transform_last` reads: enough to compute the last row exactly."""
        return self.warmup_bars + 1

    def transform(self, bars: pd.DataFrame) -> pd.DataFrame:
        """One row per bar, on the index of ``bars``: ``timestamp`` then the feature columns.

        The first :attr:`warmup_bars` rows keep NaN where a window is not yet full.
        """
        check_bars(bars)
        # (features x bars) C-contiguous, transposed: one float block, no consolidation copy
        matrix = self._compute(bars)
        frame = pd.DataFrame(matrix.T, index=bars.index, columns=self.feature_names, copy=False)
        frame.insert(0, TIMESTAMP, bars[TIMESTAMP].array)
        return frame

    def transform_last(self, bars: pd.DataFrame) -> pd.Series:
        """Features of the last bar only, computed on ``bars.tail(required_history)``.

        Equals ``transform(bars)[feature_names].iloc[-1]`` up to rounding (window statistics
        are taken with numpy on the last window only); a float64 series indexed by
        :attr:`feature_names` and named by the bar's timestamp. With fewer than
        :attr:`required_history` bars the incomplete features are NaN.
        """
        tail = bars.tail(self.required_history)
        check_bars(tail)
        if tail.empty:
            raise DataQualityError(
                "transform_last needs at least one bar", failed_checks=["record_count"]
            )
        values = self._compute(tail, last_only=True)[:, -1].copy()
        return pd.Series(values, index=self.feature_names, name=tail[TIMESTAMP].iloc[-1])

    def _compute(self, bars: pd.DataFrame, *, last_only: bool = False) -> np.ndarray:
        """A (features x bars) float64 matrix, rows in :attr:`feature_names` order.

        Each column is written into its row as soon as it exists, so peak memory stays near
        the size of the result. With ``last_only`` only the last column is complete (window
        statistics and the seasonal profile are left NaN on earlier bars).
        """
        params = self.features
        names = self.feature_names
        matrix = np.full((len(names), len(bars)), np.nan)
        out = _RowWriter(matrix, names, last_only=last_only)
        estimators = estimator_arrays(bars)
        for name in ESTIMATOR_FEATURES:
            out[name] = estimators[name]
        log_return = np.full(len(bars), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_return[1:] = np.diff(np.log(bars["close"].to_numpy(dtype="float64")))
        out["log_return"] = log_return
        rv = floor_variance(estimators[self._rv_column], floor=self.target.floor)
        log_rv = np.log(rv)
        out["log_rv"] = log_rv

        for k in range(1, params.lags + 1):
            out.lagged(f"log_rv_lag_{k}", log_rv, k)
        for w in self._stat_windows:
            for stat in ("mean", "std", "min", "max"):
                out.rolling(f"log_rv_{stat}_{w}", log_rv, w, stat)
            out.rolling(f"ret_std_{w}", log_return, w, "std")
        for w in self._har_windows:
            har = out.rolling(f"har_rv_{w}", rv, w, "mean")
            out[f"log_har_rv_{w}"] = np.log(har)

        stamps = pd.DatetimeIndex(bars[TIMESTAMP])
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC")
        hour = stamps.hour.to_numpy(dtype="float64")
        dow = stamps.dayofweek.to_numpy(dtype="float64")
        if params.calendar:
            frac_hour = hour + stamps.minute.to_numpy(dtype="float64") / 60.0
            month = stamps.month.to_numpy(dtype="float64") - 1.0
            for name, value, period in (
                ("hour", frac_hour, 24.0),
                ("dow", dow, 7.0),
                ("month", month, 12.0),
            ):
                angle = 2.0 * np.pi * value / period
                out[f"{name}_sin"] = np.sin(angle)
                out[f"{name}_cos"] = np.cos(angle)
            out["hour"] = hour
            out["dow"] = dow
        if params.seasonal_profile:
            key = (dow if self.daily else hour).astype("int64")
            if last_only:
                matrix[out.rows["seasonal_log_rv"], -1] = self._seasonal_last(log_rv, key)
            else:
                out["seasonal_log_rv"] = self._seasonal(log_rv, key)
        if self.return_features:
            for k in range(1, RETURN_LAGS + 1):
                out.lagged(f"log_return_lag_{k}", log_return, k)
            for w in self._stat_windows:
                out.rolling(f"ret_mean_{w}", log_return, w, "mean")
        return matrix

    def _seasonal_last(self, log_rv: np.ndarray, key: np.ndarray) -> float:
        """:meth:`_seasonal` of the last bar alone, adding terms in the same order."""
        t = len(log_rv) - 1
        start = max(0, t - self.seasonal_lookback)
        same = np.flatnonzero(key[start:t] == key[t])[-SEASONAL_OBSERVATIONS:] + start
        values = log_rv[same[::-1]]  # most recent first, as in _seasonal
        values = values[np.isfinite(values)]
        if values.size == 0:
            return float("nan")
        total = 0.0
        for value in values:
            total += value
        return float(total / values.size)

    def _seasonal(self, log_rv: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Mean of the last same-key values strictly before each bar, within the lookback.

        Vectorised over a stable sort by key; the terms are always added in the same order,
        so a tail of the history gives bit-identical values.
        """
        n = len(log_rv)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        sorted_value = log_rv[order]
        lookback = self.seasonal_lookback
        total = np.zeros(n)
        count = np.zeros(n)
        for k in range(1, min(SEASONAL_OBSERVATIONS, n - 1) + 1):
            prev_value = sorted_value[:-k]
            usable = (
                (sorted_key[k:] == sorted_key[:-k])
                & (order[k:] - order[:-k] <= lookback)
                & np.isfinite(prev_value)
            )
            total[k:] += np.where(usable, prev_value, 0.0)
            count[k:] += usable
        mean = np.full(n, np.nan)
        has = count > 0
        mean[has] = total[has] / count[has]
        result = np.empty(n)
        result[order] = mean
        return result


def build_dataset(
    bars: pd.DataFrame,
    *,
    features: FeatureParams,
    target: TargetParams,
    interval: str,
    headlines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Training table: one row per bar with ``timestamp``, the features, ``rv`` and ``target``.

    ``rv`` is the floored variance of bar ``t`` under the target's estimator (what the target
    sums over the following bars). Warm-up rows keep NaN features and the last ``horizon``
    rows a NaN target; callers drop them. A ``return`` or ``direction`` target
    (``target.kind``) also gets ``close`` and ``next_return`` (not features; see
    :func:`~volcast.features.target.build_kind_target`). The feature names and warm-up are
    the builder's (:attr:`FeatureBuilder.feature_names`, :attr:`FeatureBuilder.warmup_bars`).
    The index is a fresh RangeIndex. With ``features.news`` the news-sentiment columns follow
    the builder's (:func:`volcast.features.news.join_news`, as of each bar's close), computed
    from ``headlines`` (``published``, ``title``), which are then required.

    A ``target`` whose floor is still data-driven (``floor_source: quantile``) is resolved
    on ``bars`` first (:func:`~volcast.features.target.resolve_target`); serving passes the
    model's fixed section, so it floors as training did.
    """
    target = resolve_target(bars, target)
    builder = FeatureBuilder(features=features, target=target, interval=interval)
    frame = builder.transform(bars)
    if features.news:
        if headlines is None:
            raise ConfigError(
                "features.news is true but no headlines were given; run `volcast news ingest`",
                check="features.news",
            )
        frame = join_news(frame, headlines, interval=interval, features=features)
    frame["rv"] = realized_variance(bars, estimator=target.estimator, floor=target.floor).to_numpy()
    if target.kind == "variance":
        frame["target"] = build_target(bars, params=target).to_numpy()
    else:  # the close and next return the return/trading metrics read (not features)
        frame[CLOSE] = bars["close"].to_numpy(dtype="float64")
        frame[NEXT_RETURN] = next_log_return(bars).to_numpy()
        frame["target"] = build_kind_target(bars, params=target).to_numpy()
    frame.index = pd.RangeIndex(len(frame))
    return frame
