"""Bar-frame helpers shared by the live providers: build, clean and combine pages of bars.

:func:`bars_frame` turns raw provider values into a frame with the schema dtypes,
:func:`concat_bars` joins pages, :func:`finalize_bars` keeps the sorted, de-duplicated closed
bars after ``since``; :func:`split_pair` and :func:`map_interval` translate a volcast symbol
or interval into the provider's terms (ConfigError when it has none).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from volcast.errors import ConfigError
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS, TIMESTAMP, empty_bars

logger = logging.getLogger(__name__)


def bars_frame(
    *,
    timestamps: Iterable[Any] | pd.Series[Any] | pd.DatetimeIndex,
    open: Iterable[Any],
    high: Iterable[Any],
    low: Iterable[Any],
    close: Iterable[Any],
    volume: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """A bar frame with the schema dtypes from raw provider values (strings or numbers).

    Timestamps must already be tz-aware or parseable as UTC. Unparseable prices become NaN
    (logged) so the quality gate can name them, rather than failing the whole fetch.
    """
    ts = pd.to_datetime(pd.Series(list(timestamps), dtype=object), utc=True, format="ISO8601")
    frame = pd.DataFrame({TIMESTAMP: ts.astype("datetime64[ns, UTC]")})
    raw_columns = {"open": open, "high": high, "low": low, "close": close}
    for column in PRICE_COLUMNS:
        frame[column] = _to_float(raw_columns[column], len(frame), column)
    frame["volume"] = (
        np.full(len(frame), np.nan) if volume is None else _to_float(volume, len(frame), "volume")
    )
    return frame[list(BAR_COLUMNS)]


def _to_float(values: Iterable[Any], n: int, column: str) -> pd.Series[float]:
    series = pd.Series(list(values), dtype=object)
    if len(series) != n:
        raise ValueError(f"column {column!r} has {len(series)} values for {n} timestamps")
    numeric = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = int(numeric.isna().sum() - series.isna().sum())
    if bad:
        logger.warning("%d unparseable %s values became NaN", bad, column)
    return numeric


def finalize_bars(
    frame: pd.DataFrame,
    *,
    interval: pd.Timedelta,
    now: pd.Timestamp,
    since: pd.Timestamp | None,
) -> pd.DataFrame:
    """Sorted, de-duplicated closed bars strictly after ``since``.

    A bar is closed when ``timestamp + interval <= now``; the one still forming is dropped.
    Duplicated timestamps (page overlaps) keep the last value received.
    """
    if frame.empty:
        return empty_bars()
    out = frame.sort_values(TIMESTAMP, kind="stable").drop_duplicates(TIMESTAMP, keep="last")
    out = out[out[TIMESTAMP] + interval <= now]
    if since is not None:
        out = out[out[TIMESTAMP] > as_utc(since)]
    return out.reset_index(drop=True)


def as_utc(ts: pd.Timestamp) -> pd.Timestamp:
    """``ts`` as tz-aware UTC (naive timestamps are taken to be UTC already)."""
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def concat_bars(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Pages concatenated in order (empty pages ignored); an empty frame if none has rows."""
    non_empty = [f for f in frames if not f.empty]
    if not non_empty:
        return empty_bars()
    return pd.concat(non_empty, ignore_index=True)


def split_pair(symbol: str, *, provider: str) -> tuple[str, str]:
    """``("EUR", "USD")`` from ``EUR/USD`` (also ``EUR_USD``); ConfigError when not a pair."""
    for sep in ("/", "_"):
        if sep in symbol:
            base, _, quote = symbol.partition(sep)
            if base.isalnum() and quote.isalnum():
                return base.upper(), quote.upper()
    raise ConfigError(
        f"{provider} needs a currency pair such as EUR/USD or BTC/USD, got {symbol!r}",
        provider=provider,
        symbol=symbol,
    )


def map_interval(interval: str, mapping: Mapping[str, str], *, provider: str) -> str:
    """The provider's name for a volcast interval; ConfigError listing the supported ones."""
    try:
        return mapping[interval]
    except KeyError:
        raise ConfigError(
            f"{provider} does not support interval {interval!r}; supported: {', '.join(mapping)}",
            provider=provider,
            interval=interval,
        ) from None
