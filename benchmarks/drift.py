"""Decay detection on real hourly bars: false alarms on unchanged data, delay after a shift.

The forecasts watched are those of a textbook HAR-RV written here (not volcast's models):
OLS of log Garman-Klass variance on its 1-bar, 24-bar and 168-bar averages, refitted every
250 bars on an expanding window, forecasts bias-corrected by half the residual variance.
The realized value is the next bar's Garman-Klass variance, floored at the 1% quantile of
the positive ones (flat bars would otherwise give log(0)).

On the real BTC/USD hourly file (~20k bars):

1. the first ``CALIBRATION`` out-of-sample bars calibrate volcast's ``SurpriseCusum``
   (threshold for 1% of 1,000-bar stretches alarming, by block bootstrap);
2. (a) the rest is replayed unchanged: alarms per 1,000 bars (the detector resets after each);
3. (b) the same rest with a volatility regime shift injected at a known bar (log ranges and
   log returns scaled by sqrt(2) / sqrt(3) from that bar on: variance x2 / x3), at
   ``N_SHIFTS`` points spread over it; the HAR keeps forecasting from the shifted bars (it
   adapts, as a live model would): the delay in bars to the first alarm.

Goal (issue 8): delay <= 48 bars for 2x, <= 24 for 3x, at most 1 alarm per 1,000 unchanged
bars. Also the detector's cost per bar.

    uv run python benchmarks/drift.py
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from volcast.monitoring.decay import SurpriseCusum, calibrate_cusum
from volcast.sources.csv import CsvSource

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
MIN_TRAIN, REFIT, CALIBRATION, N_SHIFTS, HORIZON_BARS = 1000, 250, 5000, 20, 200
RATES = (0.01, 0.5)


def garman_klass(bars: pd.DataFrame) -> np.ndarray:
    """Textbook Garman-Klass variance of each bar."""
    hl = np.log(bars["high"] / bars["low"]).to_numpy()
    co = np.log(bars["close"] / bars["open"]).to_numpy()
    return 0.5 * hl**2 - (2 * math.log(2) - 1) * co**2


def har_forecasts(variance: np.ndarray) -> np.ndarray:
    """Textbook HAR-RV forecasts of bar t+1's variance made at bar t (NaN before training)."""
    logv = np.log(variance)
    s = pd.Series(logv)
    X = np.column_stack(
        [np.ones(len(s)), s, s.rolling(24).mean(), s.rolling(168).mean()]
    )  # regressors at t
    y = np.append(logv[1:], np.nan)  # target: log variance of t+1
    out = np.full(len(s), np.nan)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
    for start in range(MIN_TRAIN, len(s), REFIT):
        train = ok.copy()
        train[start - 1 :] = False  # the target of row start-1 is bar start: not yet closed
        beta, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        resid = y[train] - X[train] @ beta
        end = min(start + REFIT, len(s))
        out[start:end] = np.exp(X[start:end] @ beta + 0.5 * resid.var())
    return out


def shifted(bars: pd.DataFrame, at: int, factor: float) -> pd.DataFrame:
    """The bars with log ranges and log returns scaled by sqrt(factor) from row ``at`` on."""
    out = bars.copy()
    k = math.sqrt(factor)
    o = bars["open"].to_numpy()
    for col in ("high", "low", "close"):
        values = out[col].to_numpy().copy()
        values[at:] = o[at:] * np.exp(k * np.log(values[at:] / o[at:]))
        out[col] = values
    return out


def realized_and_forecast(bars: pd.DataFrame, floor: float) -> tuple[np.ndarray, np.ndarray]:
    variance = np.maximum(garman_klass(bars), floor)
    forecast = har_forecasts(variance)
    realized = np.append(variance[1:], np.nan)
    return realized, forecast


def first_alarm(detector: SurpriseCusum, realized: np.ndarray, forecast: np.ndarray) -> int | None:
    for i, (y, f) in enumerate(zip(realized, forecast, strict=True)):
        if detector.update(float(y), float(f)).drift_detected:
            return i
    return None


def main() -> None:
    bars = CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h")
    bars = bars.dropna(subset=["open", "high", "low", "close"]).reset_index(drop=True)
    raw = garman_klass(bars)
    floor = float(np.quantile(raw[raw > 0], 0.01))
    realized, forecast = realized_and_forecast(bars, floor)
    print(f"BTC/USD 1h: {len(bars)} bars, floor {floor:.3g}, calibration on {CALIBRATION} bars")
    for rate in RATES:
        print(f"-- threshold for {rate:.0%} of unchanged 1,000-bar stretches alarming")
        run(bars, realized, forecast, floor, rate)


def run(
    bars: pd.DataFrame, realized: np.ndarray, forecast: np.ndarray, floor: float, rate: float
) -> None:
    first = MIN_TRAIN
    cal = slice(first, first + CALIBRATION)
    calibration = calibrate_cusum(realized[cal], forecast[cal], false_alarm_rate=rate)
    rest = slice(first + CALIBRATION, len(bars) - 1)
    n_rest = rest.stop - rest.start
    print(
        f"  level {calibration.level:.3f}  scale {calibration.scale:.3f}  "
        f"k {calibration.k}  threshold {calibration.threshold:.2f}"
    )

    # (a) unchanged: count alarms, restarting the sums after each
    detector = SurpriseCusum.from_calibration(calibration)
    alarms = 0
    started = time.perf_counter()
    for y, f in zip(realized[rest], forecast[rest], strict=True):
        if detector.update(float(y), float(f)).drift_detected:
            alarms += 1
            detector.reset()
    per_bar = (time.perf_counter() - started) / n_rest
    print(f"(a) unchanged {n_rest} bars: {alarms} alarms = {1000 * alarms / n_rest:.2f} per 1,000")
    print(f"    detector cost {per_bar * 1e6:.1f} us per bar")

    # (b) injected shifts
    points = np.linspace(rest.start + 500, rest.stop - HORIZON_BARS, N_SHIFTS).astype(int)
    for factor in (2.0, 3.0):
        delays: list[float] = []
        for at in points:
            r, f = realized_and_forecast(shifted(bars, int(at), factor), floor)
            detector = SurpriseCusum.from_calibration(calibration)
            # run up to the shift from 500 bars before it (a warm detector), then after it
            warm = slice(at - 500, at - 1)  # realized[t] is bar t+1: t = at-1 is the first shifted
            before = first_alarm(detector, r[warm], f[warm])
            if before is not None:
                detector.reset()
            after = first_alarm(
                detector, r[at - 1 : at - 1 + HORIZON_BARS], f[at - 1 : at - 1 + HORIZON_BARS]
            )
            delays.append(math.inf if after is None else after + 1)
        d = np.asarray(delays)
        print(
            f"(b) {factor:.0f}x shift at {len(points)} points: "
            f"delay median {np.median(d):.0f} bars, "
            f"within 24: {np.mean(d <= 24):.0%}, within 48: {np.mean(d <= 48):.0%}, "
            f"missed in {HORIZON_BARS}: {np.mean(~np.isfinite(d)):.0%}"
        )


if __name__ == "__main__":
    main()
