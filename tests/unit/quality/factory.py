"""Synthetic valid OHLC bars for the quality tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_bars(
    n: int = 100,
    *,
    seed: int = 0,
    start: str = "2024-01-01T00:00:00Z",
    freq: str = "1h",
    sigma: float = 0.002,
) -> pd.DataFrame:
    """A valid random-walk OHLCV frame with the bar columns and dtypes (close near 1.1)."""
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.concatenate([[1.1], close[:-1]])
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, n)))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq=freq),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.integers(0, 1000, n).astype("float64"),
        }
    )
