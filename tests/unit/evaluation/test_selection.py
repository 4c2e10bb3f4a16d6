"""Choosing the challenger from a walk-forward result and the recent promotion window."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    window=st.integers(5, 120),
    skews=st.lists(st.floats(-1.0, 1.0), min_size=6, max_size=6),
)
def test_challenger_is_never_a_learned_model_worse_than_the_best_baseline(
    seed: int, window: int, skews: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    realized = np.exp(rng.normal(0.0, 1.0, 150))
    names = ["persistence", "ewma", "garch", "har", "lightgbm", "combination"]
    # each model: the truth times noise, with a model-specific bias that may flip late on
    forecasts = {}
    for name, skew in zip(names, skews, strict=True):
        bias = np.where(np.arange(150) < 150 - window // 2, skew, -skew)
        forecasts[name] = realized * np.exp(bias + rng.normal(0.0, 0.5, 150))
    result = _result(forecasts, realized)
    challenger = choose_challenger(result, window_bars=window)
    recent = window_metrics(result.predictions, window_bars=window)["qlike"]
    best_baseline = recent[["persistence", "ewma", "garch", "har"]].min()
    assert recent[challenger] <= best_baseline
    # and it is the best whole-period candidate among those that qualify
    qualified = [n for n in names if recent[n] <= best_baseline]
    overall = result.metrics["qlike"]
    assert overall[challenger] == overall[qualified].min()
