"""What the service is asked and what it answers: requests and results of the facade.

Plain values, free of HTTP: the routers translate the API's pydantic models to these and
back. The business rules on the values (timestamps read as UTC, volatility annualised per
bar of the horizon) live here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from volcast.errors import BadRequestError, NotFoundError
from volcast.monitoring import Scored
from volcast.registry.served import ServedModel
from volcast.schemas import bars_per_year
from volcast.series import Series
from volcast.serving.monitor import DriftState

Mode = Literal["bars", "features", "feast"]


@dataclass(frozen=True)
class ForecastRequest:
    """A forecast by symbol (``features`` None: the latest stored bar) or of explicit features.

    ``as_of`` is the bar the features describe; without features it may only name the
    latest stored bar. ``target`` other than variance (return, direction) is answered from
    the latest stored bars only (:mod:`volcast.serving.targets`).
    """

    symbol: str
    interval: str | None = None
    features: Mapping[str, float] | None = None
    as_of: datetime | None = None
    target: Literal["variance", "return", "direction"] = "variance"


@dataclass(frozen=True)
class Volatility:
    """A variance forecast with its volatility and annualised volatility."""

    variance: float
    volatility: float
    annualized_volatility: float


@dataclass(frozen=True)
class Forecast:
    """The answer to a :class:`ForecastRequest`."""

    series: Series
    as_of: pd.Timestamp
    target_time: pd.Timestamp
    horizon: int
    forecast: Volatility
    baseline: Volatility | None
    model: ServedModel
    drift: DriftState
    input: Mode
    synthetic: bool


@dataclass(frozen=True)
class FeedbackRequest:
    """The realized variance of bar ``as_of`` of a series."""

    symbol: str
    interval: str | None
    as_of: datetime
    realized_variance: float


@dataclass(frozen=True)
class FeedbackOutcome:
    """The scored feedback; ``detail`` says why a duplicate was not counted."""

    series: Series
    as_of: pd.Timestamp
    scored: Scored
    detail: str | None


def annualize(variance: float, interval: str, *, horizon: int) -> Volatility:
    """Volatility and annualised volatility of a variance summed over ``horizon`` bars.

    The volatility is the square root of the variance as forecast (over the whole horizon);
    the annualised figure scales the per-bar variance ``variance / horizon`` to a year,
    ``sqrt(variance / horizon * bars_per_year)``, as the target's definition states.
    """
    if horizon < 1:
        raise BadRequestError(f"horizon must be at least 1 bar, got {horizon}")
    clipped = max(variance, 0.0)
    return Volatility(
        variance=variance,
        volatility=math.sqrt(clipped),
        annualized_volatility=math.sqrt(clipped / horizon * bars_per_year(interval)),
    )


def utc_timestamp(value: datetime, *, field: str, series: Series) -> pd.Timestamp:
    """``value`` as a UTC nanosecond Timestamp (naive means UTC), like the stored bars.

    A bar outside the years pandas can hold (1677-2262) is not a bar of ``series``:
    NotFoundError.
    """
    try:
        stamp = pd.Timestamp(value)
        utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return utc.as_unit("ns")
    except (ValueError, OverflowError) as exc:
        raise NotFoundError(
            f"no bar of {series} at {field} {value.isoformat()}: out of range ({exc})",
            symbol=series.symbol,
            interval=series.interval,
        ) from exc
