"""Per-bar variance estimators from OHLC prices.

Every estimator measures the variance of log price over one bar, in log-return units squared:

- ``var_cc``: squared log close-to-close return ``ln(C_t / C_{t-1})^2`` (NaN on the first bar,
  which has no previous close);
- ``var_parkinson``: ``ln(H/L)^2 / (4 ln 2)`` (Parkinson 1980);
- ``var_gk``: ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2`` (Garman and Klass 1980);
- ``var_rs``: ``ln(H/C) ln(H/O) + ln(L/C) ln(L/O)`` (Rogers and Satchell 1991, drift-free).

Garman-Klass (like Parkinson and Rogers-Satchell) is exactly zero on a flat bar (open = high =
low = close) and tiny on near-flat ones; :func:`floor_variance` (used by
:func:`realized_variance`, the feature builder and the target) sets every value below the
floor, zero and negative ones included, to the floor, so that logs and QLIKE stay finite. On
an inconsistent bar (close outside the high-low range) Garman-Klass and Rogers-Satchell can
turn negative, which the floor also absorbs. :func:`positive_floor` is the data-driven floor:
a low quantile of the positive values.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from volcast.errors import ConfigError, DataQualityError
from volcast.schemas import PRICE_COLUMNS, TIMESTAMP

ESTIMATOR_COLUMNS: Final[dict[str, str]] = {
    "close_to_close": "var_cc",
    "parkinson": "var_parkinson",
    "garman_klass": "var_gk",
    "rogers_satchell": "var_rs",
}
"""Estimator name (as in ``TargetParams.estimator``) -> column of :func:`variance_estimators`."""

_LN2: Final = float(np.log(2.0))


def check_bars(bars: pd.DataFrame, *, need_timestamp: bool = True) -> None:
    """Raise :class:`DataQualityError` unless ``bars`` has the OHLC columns in time order.

    With ``need_timestamp`` the ``timestamp`` column must exist, be datetime64 and ascend.
    """
    required = (TIMESTAMP, *PRICE_COLUMNS) if need_timestamp else PRICE_COLUMNS
    missing = [c for c in required if c not in bars.columns]
    if missing:
        raise DataQualityError(
            f"bars lack the column(s) {missing}; need {', '.join(required)}",
            failed_checks=["required_columns"],
        )
    if not need_timestamp:
        return
    if not pd.api.types.is_datetime64_any_dtype(bars[TIMESTAMP]):
        raise DataQualityError(
            f"bar column {TIMESTAMP!r} has dtype {bars[TIMESTAMP].dtype}, not datetime64",
            failed_checks=["schema"],
        )
    if not bars[TIMESTAMP].is_monotonic_increasing:
        raise DataQualityError(
            "bar timestamps are not in ascending order; sort and deduplicate them first",
            failed_checks=["monotonic_timestamps"],
        )


def estimator_column(estimator: str) -> str:
    """The :func:`variance_estimators` column of ``estimator`` (a name or a column name)."""
    if estimator in ESTIMATOR_COLUMNS:
        return ESTIMATOR_COLUMNS[estimator]
    if estimator in ESTIMATOR_COLUMNS.values():
        return estimator
    raise ConfigError(
        f"unknown variance estimator {estimator!r}; use one of {sorted(ESTIMATOR_COLUMNS)}",
        estimator=estimator,
    )


def _log_prices(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_o, log_h, log_l, log_c = (
            np.log(bars[c].to_numpy(dtype="float64")) for c in PRICE_COLUMNS
        )
    return log_o, log_h, log_l, log_c


def log_returns(bars: pd.DataFrame) -> pd.Series:
    """Log close-to-close return of each bar (NaN on the first bar)."""
    check_bars(bars, need_timestamp=False)
    _, _, _, log_c = _log_prices(bars)
    ret = np.full(len(log_c), np.nan)
    ret[1:] = np.diff(log_c)
    return pd.Series(ret, index=bars.index, name="log_return")


def estimator_arrays(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """The four estimators as float64 arrays, positionally aligned with ``bars`` (no checks)."""
    log_o, log_h, log_l, log_c = _log_prices(bars)
    hl = log_h - log_l
    co = log_c - log_o
    ret = np.full(len(log_c), np.nan)
    ret[1:] = np.diff(log_c)
    return {
        "var_cc": ret**2,
        "var_parkinson": hl**2 / (4.0 * _LN2),
        "var_gk": 0.5 * hl**2 - (2.0 * _LN2 - 1.0) * co**2,
        "var_rs": (log_h - log_c) * (log_h - log_o) + (log_l - log_c) * (log_l - log_o),
    }


def variance_estimators(bars: pd.DataFrame) -> pd.DataFrame:
    """The four per-bar variance estimators, one row per bar on the index of ``bars``.

    Columns ``var_cc``, ``var_parkinson``, ``var_gk``, ``var_rs`` (float64). No floor is
    applied here, so a flat bar shows Garman-Klass 0.
    """
    check_bars(bars, need_timestamp=False)
    return pd.DataFrame(estimator_arrays(bars), index=bars.index)


def floor_variance(values: np.ndarray, *, floor: float) -> np.ndarray:
    """Per-bar variances with every value below ``floor`` set to ``floor`` (NaN stays NaN).

    The one place the floor is applied: the target, ``rv`` and the features all go through
    it. Zero (a flat bar: open = high = low = close) and negative values (an inconsistent
    bar) are not data about the bar's variance, only that it was below what the estimator
    resolves; they are set to the floor explicitly rather than left to ``log``.
    """
    if not floor > 0.0:
        raise ConfigError(f"variance floor must be positive, got {floor!r}", floor=floor)
    values = np.asarray(values, dtype="float64")
    floored: np.ndarray = np.where(values > floor, values, floor)
    floored[np.isnan(values)] = np.nan
    return floored


def positive_floor(values: np.ndarray, *, quantile: float) -> float:
    """The ``quantile`` of the strictly positive finite values: a data-driven variance floor.

    Zero-range bars are left out (their variance is unknown, not zero), so the floor is a low
    but ordinary variance of this series. Raises :class:`DataQualityError` when no value is
    positive.
    """
    values = np.asarray(values, dtype="float64")
    positive = values[np.isfinite(values) & (values > 0.0)]
    if positive.size == 0:
        raise DataQualityError(
            "no bar has a positive variance (every bar is flat); cannot set a variance floor",
            failed_checks=["variance_floor"],
        )
    return float(np.quantile(positive, quantile))


def realized_variance(bars: pd.DataFrame, *, estimator: str, floor: float) -> pd.Series:
    """The chosen per-bar variance estimator, floored at ``floor`` (NaN stays NaN).

    ``estimator`` is a ``TargetParams.estimator`` name (``garman_klass``, ``parkinson``,
    ``rogers_satchell``, ``close_to_close``) or its column name (``var_gk``...). The series is
    named ``rv``.
    """
    column = estimator_column(estimator)
    raw = variance_estimators(bars)[column].to_numpy()
    return pd.Series(floor_variance(raw, floor=floor), index=bars.index, name="rv")
