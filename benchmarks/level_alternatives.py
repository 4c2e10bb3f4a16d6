"""Is any simple statistic of the volatility level quick enough for a x2 shift on BTC?

The trade-off behind the loop's missed BTC/USD goal (docs/monitoring.md), measured for a few
statistics of the deseasonalized log Garman-Klass variance ``x`` (the product's target):

- ``window W``: the loop's :class:`~volcast.monitoring.level.LevelShift` statistic, the mean of
  the last ``W`` bars less a HAR-type prediction from the bars before them (W = 24, 48);
- ``window 24, m of m``: the same, alarming only once it stayed over the line ``m`` bars;
- ``lagged CUSUM``: an upward CUSUM (allowance 0.75 scale units) on ``x`` less a HAR-type
  prediction made 48 bars earlier, standardized by its median and MAD.

Each is fitted on the *whole* file (regression, profile), and a range of lines is swept: the
alarms per 1,000 unchanged bars of the file (crossings closer than a day count once; the
CUSUM restarts after each alarm) against the share of 40 injected shifts found in time
(returns and ranges x2 found within 48 bars, x3 within 24; ``regime.scale_returns``). Fitted
in sample, this is the optimistic frontier: the loop's lines come from a 3,000-bar history
only (``benchmarks/level.py`` measures that, out of sample).

    uv run python benchmarks/level_alternatives.py          # EUR/USD and BTC/USD, ~5 min
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from level import btc, eurusd, garman_klass
from regime import scale_returns

from volcast.monitoring.level import _design, crossings, fit_level, level_statistics

LAGS = (1, 24, 168, 720)
N_POINTS, AHEAD, WARM = 40, 60, 200


def log_variance(bars: pd.DataFrame, floor: float, profile: dict[int, float]) -> np.ndarray:
    x = np.log(np.maximum(garman_klass(bars), floor))
    return x - np.array([profile[h] for h in pd.DatetimeIndex(bars["timestamp"]).hour])


def held(flag: np.ndarray, m: int) -> np.ndarray:
    """True where ``flag`` held the last ``m`` bars."""
    return np.convolve(flag.astype(int), np.ones(m, int), "full")[: len(flag)] >= m


def cusum_alarms(z: np.ndarray, k: float, h: float) -> np.ndarray:
    """Where an upward CUSUM with allowance ``k`` crosses ``h`` (restarting after each)."""
    out = np.zeros(len(z), dtype=bool)
    s = 0.0
    for i, v in enumerate(z):
        if np.isfinite(v):
            s = max(0.0, s + v - k)
            if s > h:
                out[i], s = True, 0.0
    return out


def frontier(name: str, bars: pd.DataFrame) -> None:
    gk = garman_klass(bars)
    floor = float(np.quantile(gk[gk > 0], 0.01))
    stamps = pd.DatetimeIndex(bars["timestamp"])
    raw = np.log(np.maximum(gk, floor))
    means = pd.Series(raw).groupby(stamps.hour).mean()
    profile = {int(h): float(v - means.mean()) for h, v in means.items()}
    points = np.random.default_rng(0).integers(1000, len(bars) - AHEAD, N_POINTS)

    def shifted(scale: float) -> list[np.ndarray]:
        return [
            log_variance(scale_returns(bars.iloc[: at + AHEAD], int(at), scale), floor, profile)
            for at in points
        ]

    x = log_variance(bars, floor, profile)
    runs = {s: shifted(s) for s in (2.0, 3.0)}
    limit = {2.0: 48, 3.0: 24}

    def report(label: str, alarms: Callable[[np.ndarray, float], np.ndarray], lines) -> None:
        for line in lines:
            flags = alarms(x, line)
            n = int(np.isfinite(x).sum())
            count = crossings(np.where(flags, 1.0, 0.0), 0.5, 24)
            found = {
                s: np.mean(
                    [
                        alarms(r, line)[at : at + limit[s]].any()
                        for r, at in zip(runs[s], points, strict=True)
                    ]
                )
                for s in runs
            }
            print(
                f"  {name:<8} {label:<24} line {line:>5.2f}: {1000 * count / n:5.2f} alarms per "
                f"1,000   x2 within 48: {found[2.0]:4.0%}   x3 within 24: {found[3.0]:4.0%}",
                flush=True,
            )

    for window in (24, 48):
        fit = fit_level(np.exp(raw), stamps, window=window, false_alarms=0.5)
        fitted = fit  # the profile is re-estimated inside fit_level; use the statistic alone

        def stat(v: np.ndarray, line: float, fit=fitted) -> np.ndarray:
            return np.nan_to_num(level_statistics(v, fit), nan=-np.inf) > line

        report(f"window {window}", stat, (1.2, 1.39, 1.6, 2.0, 2.5))
        if window == 24:
            for m in (6, 12):

                def stat_m(v: np.ndarray, line: float, fit=fitted, m=m) -> np.ndarray:
                    return held(np.nan_to_num(level_statistics(v, fit), nan=-np.inf) > line, m)

                report(f"window 24, {m} of {m}", stat_m, (1.0, 1.39, 1.8))
    design = _design(x, LAGS)
    lag = 48
    usable = np.isfinite(design[:-lag]).all(axis=1) & np.isfinite(x[lag:])
    coef, *_ = np.linalg.lstsq(design[:-lag][usable], x[lag:][usable], rcond=None)

    def residual(v: np.ndarray) -> np.ndarray:
        prediction = np.full(len(v), np.nan)
        prediction[lag:] = (_design(v, LAGS) @ coef)[:-lag]
        return v - prediction

    r = residual(x)
    level = float(np.nanmedian(r))
    scale = 1.4826 * float(np.nanmedian(np.abs(r - level)))

    def lagged(v: np.ndarray, h: float) -> np.ndarray:
        return cusum_alarms(np.clip((residual(v) - level) / scale, -3, 3), 0.75, h)

    report("lagged CUSUM k 0.75", lagged, (10.0, 20.0, 30.0, 40.0))


def main() -> None:
    eur = eurusd()
    if eur is not None:
        frontier("EUR/USD", eur)
    frontier("BTC/USD", btc())
    print("goal: x2 within 48 bars, x3 within 24, at most 1 alarm per 1,000 unchanged bars")


if __name__ == "__main__":
    main()
