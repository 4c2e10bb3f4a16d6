"""The freshness guard: whether an online feature row may be served (pure).

Feast does not enforce a feature view's TTL on online reads (feast#1802): a row materialised
days ago comes back ``PRESENT``. volcast checks the row itself before it scores it:

- the row must exist and every model input in it be a finite number;
- its bar (the event timestamp) may lag the latest closed bar volcast holds by at most
  ``max_lag_bars`` bars (default 0: a forecast "of the latest bar" from an older row would be
  a forecast of an older bar, mislabelled);
- for a live series, the row's bar must have closed no longer than ``ttl_bars`` intervals ago
  by the wall clock (the view's TTL; historical files and the sample are old by nature, so the
  wall-clock rule applies to live data only, as the stale-data rule of readiness does).

:func:`refusal` returns the reason a row is refused, or None to serve it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from volcast.schemas import interval_timedelta
from volcast.series import Series


def refusal(
    series: Series,
    *,
    event_time: pd.Timestamp | None,
    values: Mapping[str, float | None],
    needed: list[str],
    latest_bar: pd.Timestamp,
    live: bool,
    now: pd.Timestamp,
    max_lag_bars: int,
    ttl_bars: float,
) -> str | None:
    """Why the online row of ``series`` must not be served; None when it may be."""
    if event_time is None:
        return f"{series}: no online feature row in the feature store (not materialised yet?)"
    step = interval_timedelta(series.interval)
    lag = (latest_bar - event_time) / step
    if lag > max_lag_bars:
        return (
            f"{series}: online feature row of bar {event_time.isoformat()} is {lag:g} bar(s) "
            f"behind the latest closed bar {latest_bar.isoformat()} (allowed: {max_lag_bars}); "
            "materialisation is behind"
        )
    if live:
        age = (now - (event_time + step)) / step
        if age > ttl_bars:
            return (
                f"{series}: online feature row of bar {event_time.isoformat()} closed {age:.1f} "
                f"bars ago, beyond the feature view's TTL of {ttl_bars:g} bars"
            )
    bad = [name for name in needed if not _finite(values.get(name))]
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        return f"{series}: online feature row of bar {event_time.isoformat()} lacks {shown}"
    return None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
