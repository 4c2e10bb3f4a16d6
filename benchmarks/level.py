"""The volatility-level step detector on real hourly bars: false alarms and delay (issue 8).

``volcast.monitoring.level.LevelShift`` (the detector behind the loop's fast ``drift``
events) measured on its own, on real bars, out of sample:

- BTC/USD 1h (``../shared/data/coinbase_btcusd_1h.csv``, ~20k bars): five stretches, each a
  3,000-bar history the detector is fitted on (regression, hour-of-day profile, lines for
  ``monitoring.level_false_alarms`` crossings per 1,000 history bars) and the next 2,000
  bars (fewer at the end of the file) replayed after it;
- EUR/USD 1h, the ~5,000 real hourly bars shipped with the ``backtesting`` package (a dev
  dependency): one stretch, 3,000 + 2,000.

Per stretch: (a) alarms per 1,000 unchanged bars after the history (crossings of the up
line less than a window apart count once; the down side is shown too, though the loop
watches the up side by default); (b) at 20 points of the replayed part, a regime shift
injected into the bars (``regime.scale_returns``: log returns and ranges x2 and x3, variance
x4 and x9) and the delay in bars to the first alarm. The realized value is each bar's
Garman-Klass variance floored at the 1 % quantile of the history's positive ones, as the
product's target. The statistic is computed vectorized (``level_statistics``), which
tests/unit/monitoring/test_level.py checks equals the streaming detector bar by bar.

Goal (issue 8): delay <= 48 bars for x2, <= 24 for x3, at most 1 alarm per 1,000 unchanged
bars.

    uv run python benchmarks/level.py
    uv run python benchmarks/level.py --false-alarms 0.5 1 2 4   # the delay / alarm trade-off
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from regime import scale_returns

from volcast.config import Params
from volcast.monitoring.level import LevelFit, crossings, fit_level, level_statistics
from volcast.sources.csv import CsvSource

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
HISTORY, REPLAY, POINTS, AHEAD = 3000, 2000, 20, 48
RATE = Params().monitoring.level_false_alarms
WINDOW = Params().monitoring.level_window


@dataclass
class Tally:
    bars: int = 0
    up: int = 0
    down: int = 0
    delays: dict[float, list[int | None]] | None = None


def garman_klass(bars: pd.DataFrame) -> np.ndarray:
    o, h, low, c = (
        np.log(bars[k].to_numpy(dtype="float64")) for k in ("open", "high", "low", "close")
    )
    return 0.5 * (h - low) ** 2 - (2 * np.log(2) - 1) * (c - o) ** 2


def btc() -> pd.DataFrame:
    bars = CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h")
    return bars.dropna(subset=["open", "high", "low", "close"]).reset_index(drop=True)


def eurusd() -> pd.DataFrame | None:
    """The EUR/USD hourly bars of the ``backtesting`` package (``scripts/export_backtesting.py``
    reads them); None when the dev dependency is not installed."""
    if importlib.util.find_spec("backtesting") is None:
        return None
    sys.path.insert(0, str(ROOT / "scripts"))
    from export_backtesting import backtesting_bars

    return backtesting_bars("eurusd")


def statistics(bars: pd.DataFrame, fit: LevelFit, floor: float) -> np.ndarray:
    x = np.log(np.maximum(garman_klass(bars), floor))
    hours = pd.DatetimeIndex(bars["timestamp"]).hour
    return level_statistics(x - np.array([fit.profile.get(h, 0.0) for h in hours]), fit)


def stretch(
    bars: pd.DataFrame, start: int, tally: Tally, rng: np.random.Generator, rate: float = RATE
) -> str:
    end = min(start + HISTORY + REPLAY, len(bars))
    part = bars.iloc[start:end].reset_index(drop=True)
    history = part.iloc[:HISTORY]
    gk = garman_klass(history)
    floor = float(np.quantile(gk[gk > 0], 0.01))
    fit = fit_level(
        np.maximum(gk, floor), pd.DatetimeIndex(history["timestamp"]),
        window=WINDOW, false_alarms=rate,
    )  # fmt: skip
    d = statistics(part, fit, floor)[HISTORY:]
    up, down = crossings(d, fit.up, fit.window), crossings(-d, fit.down, fit.window)
    tally.bars += len(d)
    tally.up += up
    tally.down += down
    assert tally.delays is not None
    for at in rng.integers(HISTORY + 50, len(part) - AHEAD, POINTS):
        for scale, found in tally.delays.items():
            shifted = scale_returns(part.iloc[: at + AHEAD], int(at), scale)
            after = statistics(shifted, fit, floor)[at:]
            hit = np.flatnonzero(after > fit.up)
            found.append(int(hit[0]) + 1 if hit.size else None)
    stamps = pd.DatetimeIndex(part["timestamp"])
    return (
        f"  {stamps[0]:%Y-%m-%d} .. {stamps[HISTORY - 1]:%Y-%m-%d} history, "
        f"{len(d)} bars after: lines up {fit.up:.2f} / down {fit.down:.2f} (log variance), "
        f"alarms up {up}, down {down}"
    )


def summary(name: str, tally: Tally) -> str:
    assert tally.delays is not None
    per_k = 1000 / tally.bars
    cells = []
    for scale, found in tally.delays.items():
        limit = 48 if scale == 2 else 24
        within = [d for d in found if d is not None and d <= limit]
        shown = [d for d in found if d is not None]
        median = f"{np.median(shown):.0f}" if shown else "-"
        cells.append(
            f"x{scale:g} within {limit}: {len(within)}/{len(found)} "
            f"({100 * len(within) / len(found):.0f} %, median delay {median})"
        )
    return (
        f"{name}: {tally.bars} unchanged bars: {tally.up * per_k:.2f} up alarms per 1,000 "
        f"(down side {tally.down * per_k:.2f}); " + "; ".join(cells)
    )


def run(
    datasets: Sequence[tuple[str, pd.DataFrame, Sequence[int]]], rates: Sequence[float] = (RATE,)
) -> None:
    for rate in rates:
        print(f"level detector: window {WINDOW} bars, lines for {rate:g} crossings per 1,000 bars")
        for name, bars, starts in datasets:
            tally = Tally(delays={2.0: [], 3.0: []})
            rng = np.random.default_rng(0)
            for start in starts:
                print(stretch(bars, start, tally, rng, rate), flush=True)
            print(summary(name, tally), flush=True)
    print("goal: x2 within 48 bars, x3 within 24, at most 1 alarm per 1,000 unchanged bars")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--false-alarms", type=float, nargs="+", default=[RATE],
        help="crossings per 1,000 history bars the lines allow (one run each; default: params)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    datasets: list[tuple[str, pd.DataFrame, Sequence[int]]] = []
    eur = eurusd()
    if eur is None:
        print("EUR/USD skipped: the `backtesting` package (dev dependency) is not installed")
    else:
        datasets.append(("EUR/USD 1h", eur, [0]))
    datasets.append(("BTC/USD 1h", btc(), [4000, 7000, 10000, 13000, 16000]))
    run(datasets, args.false_alarms)


if __name__ == "__main__":
    main()
