"""Synthetic hourly bars from a seasonal GARCH(1,1) and the feature dataset built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from volcast.config import FeatureParams, TargetParams
from volcast.features import build_dataset


def simulate_bars(
    n: int,
    *,
    seed: int,
    omega: float = 0.05,
    alpha: float = 0.08,
    beta: float = 0.90,
    steps: int = 12,
    bar_vol: float = 1e-3,
) -> pd.DataFrame:
    """OHLC bars whose hourly variance follows GARCH(1,1) times an intraday profile.

    Each bar is a Brownian path of ``steps`` increments, so high/low carry the range
    information Garman-Klass uses. Variances are in units of ``bar_vol**2``.
    """
    rng = np.random.default_rng(seed)
    hours = np.arange(n) % 24
    profile = 1.0 + 0.6 * np.cos(2.0 * np.pi * (hours - 14) / 24.0)
    sigma2 = np.empty(n)
    paths = rng.standard_normal((n, steps))
    prev_sigma2 = omega / (1.0 - alpha - beta)
    prev_z2 = 1.0
    for t in range(n):
        sigma2[t] = omega + alpha * prev_sigma2 * prev_z2 + beta * prev_sigma2
        z = paths[t].sum() / np.sqrt(steps)
        prev_sigma2, prev_z2 = sigma2[t], z * z
    step_sd = bar_vol * np.sqrt(sigma2 * profile / steps)
    increments = paths * step_sd[:, None]
    cum = np.cumsum(increments, axis=1)
    returns = cum[:, -1]
    log_open = np.concatenate([[0.0], np.cumsum(returns)[:-1]])
    log_path = log_open[:, None] + cum
    high = np.maximum(log_path.max(axis=1), log_open)
    low = np.minimum(log_path.min(axis=1), log_open)
    base = np.log(1.1)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"),
            "open": np.exp(base + log_open),
            "high": np.exp(base + high),
            "low": np.exp(base + low),
            "close": np.exp(base + log_open + returns),
            "volume": rng.uniform(100.0, 200.0, n),
        }
    )


def make_dataset(n: int, *, seed: int, horizon: int = 1) -> pd.DataFrame:
    """The real feature dataset (``volcast.features.build_dataset``) of simulated bars."""
    return build_dataset(
        simulate_bars(n, seed=seed),
        features=FeatureParams(),
        target=TargetParams(horizon=horizon),
        interval="1h",
    )
