"""Bar schema, intervals and symbol slugs shared by every layer."""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from volcast.errors import ConfigError

TIMESTAMP: Final = "timestamp"
PRICE_COLUMNS: Final = ("open", "high", "low", "close")
BAR_COLUMNS: Final = (TIMESTAMP, *PRICE_COLUMNS, "volume")
KEY_COLUMNS: Final = (TIMESTAMP, *PRICE_COLUMNS)
"""Columns whose null ratio the quality gate limits; volume may be unknown (NaN)."""

_INTERVAL_RE = re.compile(r"^(\d+)(min|h|d|w)$")
_UNIT_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def slugify(symbol: str) -> str:
    """Lower-case the symbol and drop everything but letters and digits (EUR/USD -> eurusd)."""
    slug = re.sub(r"[^a-z0-9]", "", symbol.lower())
    if not slug:
        raise ConfigError(f"symbol {symbol!r} has no letters or digits")
    return slug


def interval_seconds(interval: str) -> int:
    """Length of a bar interval such as ``1min``, ``15min``, ``1h``, ``4h``, ``1d``, ``1w``."""
    match = _INTERVAL_RE.match(interval)
    if match is None:
        raise ConfigError(
            f"unknown interval {interval!r}; use e.g. 1min, 5min, 15min, 30min, 1h, 4h, 1d, 1w"
        )
    count = int(match.group(1))
    if count <= 0:
        raise ConfigError(f"interval {interval!r} must be a positive length such as 1h")
    return count * _UNIT_SECONDS[match.group(2)]


def interval_timedelta(interval: str) -> pd.Timedelta:
    """The interval as a pandas Timedelta."""
    return pd.Timedelta(seconds=interval_seconds(interval))


def bars_per_year(interval: str) -> float:
    """Bars in a year, used to annualise volatility (365 days: markets here trade weekends too).

    Daily bars use 252 trading days, the convention for equity and FX daily data.
    """
    seconds = interval_seconds(interval)
    if seconds >= 86400:
        return 252.0 * 86400 / seconds
    return 365.0 * 86400 / seconds


def empty_bars() -> pd.DataFrame:
    """An empty frame with the bar columns and dtypes."""
    return pd.DataFrame(
        {
            TIMESTAMP: pd.Series([], dtype="datetime64[ns, UTC]"),
            **{c: pd.Series([], dtype="float64") for c in (*PRICE_COLUMNS, "volume")},
        }
    )
