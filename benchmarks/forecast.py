"""Forecast quality: every volcast candidate next to textbook models written here, on real data.

For each data set, ``volcast backtest --all-models --output`` runs in a fresh data directory
(default ``params.yaml``; the daily windows of docs/models.md on daily bars); then an
independent scorer, written in this file and sharing no code with volcast's models, fits the
textbook anchors with the same expanding walk-forward (first forecast at volcast's first
out-of-sample bar, refit every ``REFIT`` bars):

- HAR-RV (Corsi 2009) on log variance: OLS of log Garman-Klass variance of bar t+1 on the
  1-bar, 1-day and 1-week averages of log variance at t (hourly: 1, 24, 168 bars; daily: 1,
  5, 22), forecast ``exp(fit + s^2/2)``;
- seasonal HAR: the same plus hour-of-day (hourly) or day-of-week (daily) dummies of bar t+1
  (the next bar's own timestamp, which after a weekend or holiday is not t + 1 interval);
- GARCH(1,1) with Student-t errors on percentage log returns (``arch``), one-step variance;
- EWMA (RiskMetrics, lambda 0.94) of squared log returns.

Every forecast, volcast's and the anchors', is scored by QLIKE ``y/f - ln(y/f) - 1`` against
the same realized value: the textbook Garman-Klass variance of bar t+1, computed here from
the bars, floored at the 1% quantile of the positive values (a flat bar's variance is 0 and
QLIKE is undefined at 0). volcast's own forecasts are kept as written in its CSV. Printed per
model: QLIKE, its ratio to the best textbook anchor, and the Diebold-Mariano statistic and
two-sided p-value of its QLIKE losses against that anchor's (negative: lower loss); the model
``volcast backtest`` selected is marked ``*``.

Data (real, offline): the BTC/USD hourly file in ``../shared/data``; the S&P 500 and the
NASDAQ Composite daily bars bundled with ``arch`` (``scripts/export_sp500.py``): a second
equity index of the same dates, more volatile and tech-heavy, that nothing in volcast was
tuned on; the EUR/USD hourly bars bundled with ``backtesting`` (a dev dependency,
``scripts/export_backtesting.py``): 5,000 real FX hours with 42 weekend gaps, which volcast
ingests as it does any FX feed (the gaps stay gaps; windows count bars across them) and the
textbook models here see the same way.

    uv run python benchmarks/forecast.py                # all four
    uv run python benchmarks/forecast.py btc nasdaq     # some (btc, sp500, nasdaq, eurusd)
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
REFIT = 250
DAILY = {
    "features": {"lags": 22, "windows": [5, 10, 22], "weekly_window": 5, "har_windows": [1, 5, 22]},
    "train": {"refit_every": 63},
    "promotion": {"window_bars": 252},
}


def garman_klass(bars: pd.DataFrame) -> np.ndarray:
    hl = np.log(bars["high"] / bars["low"]).to_numpy()
    co = np.log(bars["close"] / bars["open"]).to_numpy()
    return np.asarray(0.5 * hl**2 - (2 * math.log(2) - 1) * co**2)


def har_design(logv: pd.Series, windows: tuple[int, int, int], dummies: pd.DataFrame | None):
    parts = [np.ones(len(logv))] + [logv.rolling(w).mean().to_numpy() for w in windows]
    X = np.column_stack(parts)
    if dummies is not None:
        X = np.column_stack([X, dummies.to_numpy(dtype=float)[:, 1:]])  # drop one level
    return X


def walk_forward_ols(X: np.ndarray, y: np.ndarray, first: int) -> np.ndarray:
    """exp(OLS fit + s^2/2) from row ``first``, refit every REFIT rows on rows < start-1."""
    out = np.full(len(y), np.nan)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
    for start in range(first, len(y), REFIT):
        train = ok.copy()
        train[start - 1 :] = False  # row start-1's target is bar `start`: not closed yet
        beta, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        resid = y[train] - X[train] @ beta
        end = min(start + REFIT, len(y))
        out[start:end] = np.exp(X[start:end] @ beta + 0.5 * resid.var())
    return out


def garch_t(returns: np.ndarray, first: int) -> np.ndarray:
    """One-step GARCH(1,1)-t variance forecasts of bar t+1 made at t, from row ``first``."""
    from arch import arch_model

    out = np.full(len(returns), np.nan)
    r = 100 * np.nan_to_num(returns)
    for start in range(first, len(r), REFIT):
        end = min(start + REFIT, len(r))
        model = arch_model(r[: end + 1], mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(last_obs=start, disp="off", show_warning=False)
            # forecast made at t (reindex: row t holds the forecast of t+1)
            fc = fitted.forecast(horizon=1, start=start, reindex=False).variance
        values = fc.to_numpy()[:, 0] / 1e4
        out[start:end] = values[: end - start]
    return out


def ewma(returns: np.ndarray, lam: float = 0.94) -> np.ndarray:
    r2 = np.nan_to_num(returns) ** 2
    out = np.empty(len(r2))
    level = np.mean(r2[:100])
    for t, value in enumerate(r2):
        level = lam * level + (1 - lam) * value
        out[t] = level
    return out


def anchors(bars: pd.DataFrame, *, hourly: bool, first: int, floor: float) -> dict[str, np.ndarray]:
    variance = np.maximum(garman_klass(bars), floor)
    logv = pd.Series(np.log(variance))
    y = np.append(logv.to_numpy()[1:], np.nan)
    windows = (1, 24, 168) if hourly else (1, 5, 22)
    stamps = pd.DatetimeIndex(bars["timestamp"])
    # the calendar position of the bar being forecast: the next bar's own stamp (after a
    # weekend or holiday gap it is not t + 1 interval); the last row has no next bar
    step = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    nxt = pd.DatetimeIndex([*stamps[1:], stamps[-1] + step])
    season = nxt.hour if hourly else nxt.dayofweek
    dummies = pd.get_dummies(pd.Categorical(season, categories=sorted(set(season))))
    returns = np.log(bars["close"] / bars["close"].shift(1)).to_numpy()
    return {
        "textbook HAR": walk_forward_ols(har_design(logv, windows, None), y, first),
        "textbook seasonal HAR": walk_forward_ols(har_design(logv, windows, dummies), y, first),
        "textbook GARCH(1,1)-t": garch_t(returns, first),
        "textbook EWMA": ewma(returns),
    }


def run_volcast(csv: Path, *, symbol: str, interval: str, config: Path) -> tuple[pd.DataFrame, str]:
    """Every candidate's out-of-sample forecasts and the name of the selected model."""
    with tempfile.TemporaryDirectory(prefix="volcast-forecast-") as tmp:
        out = Path(tmp) / "predictions.csv"
        env = {**os.environ, "VOLCAST_DATA_DIR": str(Path(tmp) / "data"), "COLUMNS": "200"}
        cmd = [sys.executable, "-m", "volcast", "backtest", "--source", "csv", "--path", str(csv)]
        cmd += ["--symbol", symbol, "--interval", interval, "--config", str(config)]
        cmd += ["--output", str(out), "--all-models"]
        done = subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True, text=True)
        found = re.search(r"selected: (\w+)", done.stdout)
        if found is None:
            raise RuntimeError(f"no 'selected:' line in volcast's output:\n{done.stdout}")
        return pd.read_csv(out, parse_dates=["timestamp"]), found.group(1)


def qlike_losses(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    ratio = y / f
    return np.asarray(ratio - np.log(ratio) - 1)


def evaluate(name: str, csv: Path, bars: pd.DataFrame, *, symbol: str, interval: str) -> None:
    from volcast.evaluation.metrics import diebold_mariano

    started = time.perf_counter()
    hourly = interval.endswith("h")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if not hourly:
        for section, values in DAILY.items():
            params[section].update(values)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "params.yaml"
        config.write_text(yaml.safe_dump(params))
        predictions, selected = run_volcast(csv, symbol=symbol, interval=interval, config=config)
    volcast_seconds = time.perf_counter() - started
    bars = bars.reset_index(drop=True)
    stamps = pd.DatetimeIndex(pd.to_datetime(bars["timestamp"], utc=True))
    raw = garman_klass(bars)
    floor = float(np.quantile(raw[raw > 0], 0.01))
    realized = np.append(np.maximum(raw, floor)[1:], np.nan)  # bar t+1's variance, at row t
    first_stamp = predictions["timestamp"].min()
    first = int(stamps.searchsorted(pd.Timestamp(first_stamp)))
    table = anchors(bars, hourly=hourly, first=first, floor=floor)
    position = pd.Series(np.arange(len(stamps)), index=stamps)
    forecasts: dict[str, pd.Series] = {}
    for model, rows in predictions.groupby("model"):
        idx = position.reindex(pd.DatetimeIndex(pd.to_datetime(rows["timestamp"], utc=True)))
        keep = idx.notna().to_numpy()
        forecasts[f"volcast {model}"] = pd.Series(
            rows["forecast_variance"].to_numpy()[keep], index=idx.to_numpy()[keep].astype(int)
        )
    for label, values in table.items():
        forecasts[label] = pd.Series(values, index=np.arange(len(values)))
    common = set(range(first, len(stamps) - 1))
    for series in forecasts.values():
        finite = series[np.isfinite(series) & (series > 0)]
        common &= set(finite.index)
    rows = sorted(common)
    y = realized[rows]
    losses = {
        label: qlike_losses(y, series.reindex(rows).to_numpy())
        for label, series in forecasts.items()
    }
    scores = {label: float(np.mean(loss)) for label, loss in losses.items()}
    best = min((k for k in scores if k.startswith("textbook")), key=scores.__getitem__)
    print(
        f"\n{name}: {len(bars)} bars, {len(rows)} common out-of-sample bars, realized floor"
        f" {floor:.3g}; volcast backtest {volcast_seconds:.0f} s, selected: {selected} (*)"
    )
    print(f"  {'model':30s} {'QLIKE':>8s} {'ratio':>7s} {'DM stat':>8s} {'DM p':>9s}")
    for label, value in sorted(scores.items(), key=lambda kv: kv[1]):
        mark = "*" if label == f"volcast {selected}" else " "
        if label == best:
            dm = f"{'(best textbook)':>18s}"
        else:
            stat, p_value = diebold_mariano(losses[label], losses[best], horizon=1)
            dm = f"{stat:+8.2f} {p_value:9.2g}"
        print(f"{mark} {label:30s} {value:8.4f} {value / scores[best]:7.3f} {dm}")
    chosen = f"volcast {selected}"
    if chosen in scores:
        stat, p_value = diebold_mariano(losses[chosen], losses[best], horizon=1)
        print(
            f"  => selected {selected}: QLIKE ratio {scores[chosen] / scores[best]:.3f} to {best}"
            f" (DM {stat:+.2f}, p = {p_value:.2g})"
        )


def main(which: list[str]) -> None:
    from volcast.sources.csv import CsvSource

    unknown = sorted(set(which) - {"btc", "sp500", "nasdaq", "eurusd"})
    if unknown:
        raise SystemExit(f"unknown data set(s) {unknown}; choose from btc, sp500, nasdaq, eurusd")
    if not which or "btc" in which:
        bars = CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h")
        evaluate("BTC/USD 1h (Coinbase, real)", BTC, bars, symbol="BTC/USD", interval="1h")
    sys.path.insert(0, str(ROOT / "scripts"))
    from export_sp500 import DATASETS, export_sp500, sp500_bars

    for key in ("sp500", "nasdaq"):
        if which and key not in which:
            continue
        label, symbol = DATASETS[key]
        with tempfile.TemporaryDirectory() as tmp:
            csv = export_sp500(Path(tmp) / f"{key}.csv", key)
            bars = sp500_bars(key)
            evaluate(f"{label} 1d (arch, real)", csv, bars, symbol=symbol, interval="1d")
    if not which or "eurusd" in which:
        from export_backtesting import backtesting_bars, export_backtesting

        with tempfile.TemporaryDirectory() as tmp:
            csv = export_backtesting(Path(tmp) / "eurusd.csv", "eurusd")
            bars = backtesting_bars("eurusd")
            evaluate("EUR/USD 1h (backtesting, real)", csv, bars, symbol="EUR/USD", interval="1h")


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # arch's convergence notes on the textbook GARCH refits
    main(sys.argv[1:])
