"""Cleaning of gated bars before features (SPEC 3).

Policy, in the order applied:

1. A bar with a null price (the gate lets up to ``max_null_ratio`` of them through) is
   treated as a missing bar: it is dropped, then filled like any other missing bar below.
2. Isolated gaps are forward-filled: when at most ``max_gap_fill`` bars are missing between
   two bars on the regular grid, each missing bar becomes a *flat* bar at the previous close
   (open = high = low = close, volume 0). Flat bars add no variance, so the forecast target
   of such a bar is floored (see the target's ``floor``); they are recognisable afterwards
   by ``open == high == low == close`` and ``volume == 0``. No flag column is added: the
   frame keeps exactly :data:`volcast.schemas.BAR_COLUMNS`.
3. Longer gaps (weekends, exchange holidays, outages) and gaps that are not a whole number
   of intervals (bars off the grid) are left alone: inventing a weekend of flat bars would
   fake calm, and features measure time in bars across such gaps.

Outliers are *not* handled here: the gate flags them (``return_outliers``, a warning) and
they are kept, because a genuine market jump is exactly what a volatility model must see.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from volcast.errors import ConfigError
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS, TIMESTAMP, interval_timedelta


def clean_bars(
    bars: pd.DataFrame, *, interval: str, max_gap_fill: int | None = None
) -> pd.DataFrame:
    """Drop null-price bars and forward-fill gaps of at most ``max_gap_fill`` bars.

    ``bars`` are gated bars (unique ascending UTC timestamps, :data:`BAR_COLUMNS`); they are
    not modified. ``max_gap_fill=0`` only drops null-price bars. The default (None) fills
    isolated one-bar gaps for intraday intervals (a feed outage inside a trading session) and
    nothing for daily and longer bars, where a missing bar is an exchange holiday: a flat
    filler bar there would be a fake zero-variance day (floored target) in every holiday.
    Returns a new frame sorted by time with a fresh index.
    """
    if max_gap_fill is None:
        max_gap_fill = 1 if interval_timedelta(interval) < pd.Timedelta(days=1) else 0
    if max_gap_fill < 0:
        raise ConfigError(f"max_gap_fill must be >= 0, got {max_gap_fill}")
    step_ns = int(interval_timedelta(interval).value)
    frame = (
        bars.loc[:, list(BAR_COLUMNS)]
        .dropna(subset=[TIMESTAMP, *PRICE_COLUMNS])
        .sort_values(TIMESTAMP, kind="stable")
        .reset_index(drop=True)
    )
    if len(frame) < 2 or max_gap_fill == 0:
        return frame

    ts = frame[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view("int64")
    gaps = np.diff(ts)
    missing = gaps // step_ns - 1
    fill = (gaps % step_ns == 0) & (missing >= 1) & (missing <= max_gap_fill)
    starts = np.flatnonzero(fill)
    if starts.size == 0:
        return frame

    reps = missing[starts]
    total = int(reps.sum())
    # position of each new bar inside its gap: 1, 2, ..., reps[k] for gap k
    within = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps) + 1
    new_ts = np.repeat(ts[starts], reps) + within * step_ns
    prev_close = np.repeat(frame["close"].to_numpy(dtype="float64")[starts], reps)
    filled = pd.DataFrame(
        {
            TIMESTAMP: pd.to_datetime(new_ts, utc=True),
            **{name: prev_close for name in PRICE_COLUMNS},
            "volume": np.zeros(total),
        }
    )
    return (
        pd.concat([frame, filled], ignore_index=True)
        .sort_values(TIMESTAMP, kind="stable")
        .reset_index(drop=True)
    )
