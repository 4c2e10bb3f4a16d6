"""The forecast target: realized variance of the coming bar(s) (SPEC 4), and its floor.

By default (``TargetParams``: ``estimator="garman_klass"``, ``horizon=1``) the target at bar
``t`` is the Garman-Klass variance of the next bar ``t+1``, floored. With ``horizon=h`` the
target is the sum of the floored per-bar variances of bars ``t+1 .. t+h``; the estimator may
also be ``parkinson``, ``rogers_satchell`` or ``close_to_close``.

**The floor.** A flat bar (open = high = low = close, common in quiet FX hours and on thin
crypto books) makes Garman-Klass exactly zero, and the log-variance models and the QLIKE loss
need a strictly positive value. A fixed tiny floor (the former ``1e-10``) turns such a bar
into ``log(1e-10) = -23``, an outlier some 15 log units below an ordinary bar that drags a
log-OLS fit (HAR) and makes persistence's QLIKE explode. The default floor is therefore
data-driven (:func:`resolve_target`): the ``floor_quantile`` (1 %) quantile of the positive
per-bar variances of the bars the dataset is built from, the final model's training window.
The resolved value is written into the target section (``floor_source: fixed``) that the
dataset and the registered model carry; serving and refits reuse it, never re-estimate it.

In a walk-forward backtest that one scalar is estimated on the whole history, the only
quantity that is: a floor from the first training window alone (``floor_bars``) avoids it but
sits far too high on a series whose volatility falls later (on the NASDAQ daily bars the 1 %
quantile of 1999-2003 floors a third of the later days), which distorts the very target
being scored. See docs/features.md for the measured effect.

The target is a variance in log-return units squared per bar (or per ``h`` bars). The API
reports its square root (volatility) and the annualised figure,
``sqrt(variance * bars_per_year / horizon)`` (see :func:`volcast.schemas.bars_per_year`).

**Other targets** (``kind``, SPEC 20; :func:`build_kind_target`): ``return``, the log return
of the next bar's close over this bar's close, and ``direction``, 1 when the next bar closes
above this bar's close. Both are one bar ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from volcast.config import TargetParams
from volcast.errors import ConfigError
from volcast.features.estimators import (
    estimator_arrays,
    estimator_column,
    positive_floor,
    realized_variance,
)


def resolve_target(bars: pd.DataFrame, params: TargetParams) -> TargetParams:
    """``params`` with its floor fixed: data-driven from ``bars`` unless already fixed.

    With ``floor_source: quantile`` the floor is the ``floor_quantile`` quantile of the
    positive per-bar variances (the target's estimator) of ``bars``, or of their first
    ``floor_bars`` when set; the result has ``floor_source: fixed``. A fixed section is
    returned unchanged, so resolving twice changes nothing.
    """
    if params.floor_source == "fixed":
        return params
    head = bars if params.floor_bars is None else bars.iloc[: params.floor_bars]
    values = estimator_arrays(head)[estimator_column(params.estimator)]
    floor = positive_floor(values, quantile=params.floor_quantile)
    return params.model_copy(update={"floor": floor, "floor_source": "fixed"})


def logged_target(doc: Mapping[str, Any]) -> TargetParams:
    """A target section as logged with a dataset or a model: always a fixed floor.

    What was logged is what was used: sections from before the floor became data-driven
    have no ``floor_source`` and their ``floor`` was the one applied; a section logged
    unresolved (by hand) also reads as its ``floor``, so that serving never re-estimates a
    floor from the bars it happens to hold.
    """
    values = {**dict(doc), "floor_source": "fixed"}
    try:
        return TargetParams.model_validate(values)
    except ValueError as exc:
        raise ConfigError(f"invalid logged target section: {exc}") from exc


def build_target(bars: pd.DataFrame, *, params: TargetParams) -> pd.Series:
    """Target of each bar: the summed floored variance of the next ``params.horizon`` bars.

    Row ``t`` uses bars ``t+1 .. t+horizon`` only, never bar ``t`` itself; the last
    ``horizon`` rows are NaN (their future has not happened). Same index as ``bars``; the
    series is named ``target``. The floor is ``params.floor`` as given: resolve a
    data-driven floor first (:func:`resolve_target`) with the bars it is estimated on.
    """
    rv = realized_variance(bars, estimator=params.estimator, floor=params.floor)
    # Explicit shifts rather than a rolling sum: exact, and identical whatever came before.
    target = rv.shift(-1)
    for step in range(2, params.horizon + 1):
        target = target + rv.shift(-step)
    target.name = "target"
    return target


NEXT_RETURN = "next_return"
"""Dataset column of the other targets: the log return of bar ``t+1``'s close over bar ``t``'s."""
CLOSE = "close"
"""Dataset column of the other targets: bar ``t``'s close (the implied next close is
``close * exp(forecast_return)``)."""


def next_log_return(bars: pd.DataFrame) -> pd.Series:
    """``log(close[t+1] / close[t])`` on row ``t``; NaN on the last row (not yet closed)."""
    close = bars["close"].astype("float64")
    out = pd.Series(np.log(close.shift(-1) / close), index=bars.index, name=NEXT_RETURN)
    return out


def build_kind_target(bars: pd.DataFrame, *, params: TargetParams) -> pd.Series:
    """The target of ``params.kind`` on each row, named ``target``; NaN on the last row(s).

    ``variance``: :func:`build_target`. ``return``: :func:`next_log_return`. ``direction``:
    1.0 when bar ``t+1`` closes strictly above bar ``t`` (a flat close is 0.0), else 0.0.
    Row ``t`` reads bar ``t+1`` only for its label; no feature ever does.
    """
    if params.kind == "variance":
        return build_target(bars, params=params)
    ret = next_log_return(bars)
    if params.kind == "return":
        target = ret.copy()
    else:
        target = (ret > 0.0).astype("float64").where(ret.notna())
    target.name = "target"
    return target
