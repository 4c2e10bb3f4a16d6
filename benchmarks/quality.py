"""Forecast quality against textbook baselines written here, on the same bars and timestamps.

For each data set, ``volcast backtest --all-models --output`` runs in a fresh data directory;
then an independent scorer, written in this file and sharing no code with volcast's models,
fits the textbook anchors with the same expanding walk-forward (first forecast at volcast's
first out-of-sample bar, refit every ``REFIT`` bars):

- HAR-RV (Corsi 2009): OLS of log Garman-Klass variance of bar t+1 on the log of its 1-bar,
  1-day and 1-week averages at t (hourly: 1, 24, 168 bars; daily: 1, 5, 22), forecast
  ``exp(fit + s^2/2)``;
- seasonal HAR: the same plus hour-of-day (hourly) or day-of-week (daily) dummies of t+1;
- GARCH(1,1) with Student-t errors on percentage log returns (``arch``), one-step variance;
- EWMA (RiskMetrics, lambda 0.94) of squared log returns.

Every forecast, volcast's and the anchors', is scored by QLIKE ``y/f - ln(y/f) - 1`` against
the same realized value: the textbook Garman-Klass variance of bar t+1, computed here from
the bars, floored at the 1% quantile of the positive values (a flat bar's variance is 0 and
QLIKE is undefined at 0). volcast's own forecasts are kept as written in its CSV.

Data: the real BTC/USD hourly file in ``../shared/data`` and the S&P 500 daily bars bundled
with ``arch`` (``scripts/export_sp500.py``; daily windows as in docs/models.md).

    uv run python benchmarks/quality.py            # both
    uv run python benchmarks/quality.py btc        # one
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
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


def qlike(y: np.ndarray, f: np.ndarray) -> float:
    ratio = y / f
    return float(np.mean(ratio - np.log(ratio) - 1))


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
            fitted = model.fit(last_obs=start, disp="off")
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
    nxt = stamps + (pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1))
    season = nxt.hour if hourly else nxt.dayofweek
    dummies = pd.get_dummies(pd.Categorical(season, categories=sorted(set(season))))
    returns = np.log(bars["close"] / bars["close"].shift(1)).to_numpy()
    return {
        "textbook HAR": walk_forward_ols(har_design(logv, windows, None), y, first),
        "textbook seasonal HAR": walk_forward_ols(har_design(logv, windows, dummies), y, first),
        "textbook GARCH(1,1)-t": garch_t(returns, first),
        "textbook EWMA": ewma(returns),
    }


def run_volcast(csv: Path, *, symbol: str, interval: str, config: Path) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="volcast-quality-") as tmp:
        out = Path(tmp) / "predictions.csv"
        env = {**os.environ, "VOLCAST_DATA_DIR": str(Path(tmp) / "data")}
        cmd = [sys.executable, "-m", "volcast", "backtest", "--source", "csv", "--path", str(csv)]
        cmd += ["--symbol", symbol, "--interval", interval, "--config", str(config)]
        cmd += ["--output", str(out)]
        helptext = subprocess.run(
            [sys.executable, "-m", "volcast", "backtest", "--help"], capture_output=True, text=True
        ).stdout
        if "--all-models" in helptext:  # without it, older versions wrote every candidate
            cmd.append("--all-models")
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        return pd.read_csv(out, parse_dates=["timestamp"])


def evaluate(name: str, csv: Path, bars: pd.DataFrame, *, symbol: str, interval: str) -> None:
    hourly = interval.endswith("h")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if not hourly:
        for section, values in DAILY.items():
            params[section].update(values)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "params.yaml"
        config.write_text(yaml.safe_dump(params))
        predictions = run_volcast(csv, symbol=symbol, interval=interval, config=config)
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
    print(f"\n{name}: {len(bars)} bars, {len(rows)} common out-of-sample bars, floor {floor:.3g}")
    scores = {
        label: qlike(y, series.reindex(rows).to_numpy()) for label, series in forecasts.items()
    }
    best_anchor = min((v, k) for k, v in scores.items() if k.startswith("textbook"))
    for label, value in sorted(scores.items(), key=lambda kv: kv[1]):
        versus = (value / best_anchor[0] - 1) * 100
        print(f"  {label:28s} QLIKE {value:.4f}  {versus:+6.1f} % vs best textbook")


def main(which: list[str]) -> None:
    from volcast.sources.csv import CsvSource

    if not which or "btc" in which:
        bars = CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h")
        evaluate("BTC/USD 1h (real)", BTC, bars, symbol="BTC/USD", interval="1h")
    if not which or "sp500" in which:
        sys.path.insert(0, str(ROOT / "scripts"))
        from export_sp500 import export_sp500, sp500_bars

        with tempfile.TemporaryDirectory() as tmp:
            csv = export_sp500(Path(tmp) / "sp500.csv")
            evaluate("S&P 500 1d (arch)", csv, sp500_bars(), symbol="SPX", interval="1d")


if __name__ == "__main__":
    main(sys.argv[1:])
