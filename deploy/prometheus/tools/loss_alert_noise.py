"""How often the forecast-loss alert lines would be crossed by models that were not broken.

Reads the out-of-sample forecasts of ``volcast backtest --output FILE.csv`` (every candidate's
rows: timestamp, forecast_variance, realized_variance, model) and replays the two loss alerts
of deploy/prometheus/rules/alerts.yml on them, as the stream worker's rolling QLIKE would:

- against the training level: a model "trained" at bar T has as level its mean out-of-sample
  QLIKE before T; the rolling QLIKE over the next ``--horizon`` bars is compared with it;
- against HAR: the rolling QLIKE of each model over that of ``har`` on the same bars.

Prints, per model and factor, the share of bars over the line and the number of separate
crossings per 1,000 bars (each would be one alert and one retrain request). Used to choose
the factors (docs/runbooks/VolcastForecastLossDegraded.md, VolcastForecastWorseThanHar.md):

    uv run volcast backtest --source csv --path F --symbol S --interval 1h --output oos.csv
    uv run python deploy/prometheus/tools/loss_alert_noise.py oos.csv
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def qlike(realized: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    ratio = realized / forecast
    return np.asarray(ratio - np.log(ratio) - 1.0)


def crossings(ratio: np.ndarray, line: float) -> tuple[float, float]:
    """(share of bars over ``line``, separate crossings per 1,000 bars)."""
    over = ratio > line
    if over.size == 0:
        return float("nan"), float("nan")
    starts = int(over[0]) + int(np.sum(over[1:] & ~over[:-1]))
    return float(over.mean()), 1000.0 * starts / over.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--window", type=int, default=168, help="rolling QLIKE window (bars)")
    parser.add_argument("--horizon", type=int, default=1000, help="bars a champion serves")
    parser.add_argument("--min-level-bars", type=int, default=2000)
    args = parser.parse_args()
    rows = pd.read_csv(args.csv, parse_dates=["timestamp"])
    floor = 1e-12
    rows["qlike"] = qlike(
        rows["realized_variance"].clip(lower=floor).to_numpy(),
        rows["forecast_variance"].clip(lower=floor).to_numpy(),
    )
    losses = rows.pivot(index="timestamp", columns="model", values="qlike").dropna()
    rolling = losses.rolling(args.window).mean()
    print(f"{len(losses)} out-of-sample bars, rolling window {args.window}")
    for model in losses.columns:
        q = losses[model].to_numpy()
        roll = rolling[model].to_numpy()
        ratios = []
        for start in range(args.min_level_bars, len(q) - args.horizon, args.window):
            level = q[:start].mean()
            ratios.append(roll[start + args.window : start + args.horizon] / level)
        vs_level = np.concatenate(ratios)
        text = [f"{model:12s} vs training level:"]
        for line in (1.2, 1.5, 2.0):
            share, per_k = crossings(vs_level, line)
            text.append(f"{line}x {share:6.1%} {per_k:5.2f}/1k")
        if "har" in losses.columns and model != "har":
            vs_har = (rolling[model] / rolling["har"]).dropna().to_numpy()
            text.append("| vs HAR:")
            for line in (1.05, 1.1, 1.2):
                share, per_k = crossings(vs_har, line)
                text.append(f"{line}x {share:6.1%} {per_k:5.2f}/1k")
        print("  ".join(text))


if __name__ == "__main__":
    main()
