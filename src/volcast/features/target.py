"""The forecast target: realized variance of the coming bar(s) (SPEC 4).

By default (``TargetParams``: ``estimator="garman_klass"``, ``horizon=1``) the target at bar
``t`` is the Garman-Klass variance of the next bar ``t+1``, floored at ``params.floor``
(``1e-10``): a flat bar (open = high = low = close, common in quiet FX hours) makes
Garman-Klass exactly zero, and the log-variance models and the QLIKE loss need a strictly
positive value. With ``horizon=h`` the target is the sum of the floored per-bar variances of
bars ``t+1 .. t+h``; the estimator may also be ``parkinson``, ``rogers_satchell`` or
``close_to_close``.

The target is a variance in log-return units squared per bar (or per ``h`` bars). The API
reports its square root (volatility) and the annualised figure,
``sqrt(variance * bars_per_year / horizon)`` (see :func:`volcast.schemas.bars_per_year`).
"""

from __future__ import annotations

import pandas as pd

from volcast.config import TargetParams
from volcast.features.estimators import realized_variance


def build_target(bars: pd.DataFrame, *, params: TargetParams) -> pd.Series:
    """Target of each bar: the summed floored variance of the next ``params.horizon`` bars.

    Row ``t`` uses bars ``t+1 .. t+horizon`` only, never bar ``t`` itself; the last
    ``horizon`` rows are NaN (their future has not happened). Same index as ``bars``; the
    series is named ``target``.
    """
    rv = realized_variance(bars, estimator=params.estimator, floor=params.floor)
    # Explicit shifts rather than a rolling sum: exact, and identical whatever came before.
    target = rv.shift(-1)
    for step in range(2, params.horizon + 1):
        target = target + rv.shift(-step)
    target.name = "target"
    return target
