"""A small random-walk OHLC generator for feature tests (independent of the sample source)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_walk_bars(
    n: int,
    *,
    seed: int = 0,
    interval: str = "1h",
    start: str = "2024-01-01T00:00:00Z",
    weekend_gaps: bool = False,
    flat_every: int = 0,
    steps: int = 8,
) -> pd.DataFrame:
    """``n`` OHLC bars of a log random walk with clustered, intraday-seasonal volatility.

    Each bar is ``steps`` sub-steps of the walk: open is the previous close, high and low the
    extremes of the path. ``weekend_gaps`` drops Friday 21:00 to Sunday 21:00 UTC (FX hours);
    ``flat_every=k`` makes every k-th bar flat (open = high = low = close). Volume is NaN on
    every 10th bar, as some providers send none.
    """
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=n * 3 if weekend_gaps else n, freq=interval, tz="UTC")
    if weekend_gaps:
        week_hour = stamps.dayofweek * 24 + stamps.hour
        closed = (week_hour >= 4 * 24 + 21) & (week_hour < 6 * 24 + 21)
        stamps = stamps[~closed]
    stamps = stamps[:n]
    log_vol = np.empty(n)
    log_vol[0] = 0.0
    shocks = rng.normal(scale=0.2, size=n)
    for i in range(1, n):
        log_vol[i] = 0.97 * log_vol[i - 1] + shocks[i]
    season = 1.0 + 0.5 * np.sin(2 * np.pi * stamps.hour.to_numpy() / 24.0)
    sigma = 1e-3 * np.exp(log_vol) * season / np.sqrt(steps)
    paths = np.cumsum(rng.standard_t(df=5, size=(n, steps)) * sigma[:, None], axis=1)
    offsets = np.concatenate([[0.0], np.cumsum(paths[:-1, -1])])
    level = np.log(1.1) + offsets
    open_ = np.exp(level)
    close = np.exp(level + paths[:, -1])
    high = np.maximum(open_, np.exp(level + paths.max(axis=1)))
    low = np.minimum(open_, np.exp(level + paths.min(axis=1)))
    if flat_every:
        flat = np.arange(n) % flat_every == flat_every - 1
        high[flat] = low[flat] = close[flat] = open_[flat]
        # the next bar opens where the flat bar closed
    volume = rng.gamma(2.0, 500.0, size=n)
    volume[::10] = np.nan
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )
