"""Choosing the challenger from a walk-forward result and the recent promotion window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from volcast.evaluation.backtest import BacktestResult
from volcast.evaluation.metrics import compute_metrics
from volcast.evaluation.selection import choose_challenger, window_metrics


def _result(forecasts: dict[str, np.ndarray], realized: np.ndarray) -> BacktestResult:
    stamps = pd.date_range("2024-01-01", periods=len(realized), freq="h", tz="UTC")
    predictions = pd.concat(
        [
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "forecast_variance": f,
                    "realized_variance": realized,
                    "model": name,
                    "current_variance": realized,
                }
            )
            for name, f in forecasts.items()
        ],
        ignore_index=True,
    )
    metrics = pd.DataFrame.from_dict(
        {n: compute_metrics(g) for n, g in predictions.groupby("model", sort=False)},
        orient="index",
    )
    return BacktestResult(predictions, metrics, "x", "har", 0.0, pd.DataFrame(), 1)


def test_window_metrics_score_the_last_bars_only() -> None:
    realized = np.ones(100)
    forecast = np.r_[np.full(90, 5.0), np.ones(10)]
    result = _result({"har": forecast}, realized)
    assert window_metrics(result.predictions, window_bars=10).loc["har", "qlike"] == 0.0
    assert window_metrics(result.predictions, window_bars=100).loc["har", "qlike"] > 0.0


def test_best_overall_but_beaten_lately_is_skipped() -> None:
    realized = np.ones(100)
    # "gbm" is perfect for 90 bars, then worse than har on the last 10
    gbm = np.r_[np.ones(90), np.full(10, 1.5)]
    har = np.full(100, 1.3)
    result = _result({"gbm": gbm, "har": har}, realized)
    assert result.metrics.loc["gbm", "qlike"] < result.metrics.loc["har", "qlike"]
    assert choose_challenger(result, window_bars=10) == "har"
    assert choose_challenger(result, window_bars=100) == "gbm"
