"""The trading backtests built on the forecasts: signs, alignment and the vol-target wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.config import TradingParams
from volcast.evaluation.target_backtest import TargetBacktestResult
from volcast.evaluation.target_trading import trading_backtest, vol_target_table

STAMPS = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC")
LOG_RETURNS = np.log([1.01, 0.98, 1.02, 0.99])


def _direction(p: list[float]) -> TargetBacktestResult:
    predictions = pd.DataFrame(
        {
            "timestamp": STAMPS,
            "probability_up": p,
            "outcome": (LOG_RETURNS > 0).astype(int),
            "model": "m",
            "realized_return": LOG_RETURNS,
            "close": 100.0,
        }
    )
    return TargetBacktestResult(
        kind="direction",
        predictions=predictions,
        metrics=pd.DataFrame(),
        selected="m",
        best_baseline="m",
        duration_seconds=0.0,
        folds=pd.DataFrame(),
    )


def test_a_perfect_direction_forecast_earns_every_move_less_costs() -> None:
    result = trading_backtest(
        _direction([0.9, 0.1, 0.9, 0.1]),
        params=TradingParams(cost_bps=10.0, slippage_bps=0.0),
        interval="1h",
    )
    # long, short, long, short: gains |r| each bar; trades 1, 2, 2, 2 units at 10 bp
    gross = np.abs(np.expm1(LOG_RETURNS))
    net = gross - np.array([1, 2, 2, 2]) * 10e-4
    assert result.trading.loc["m", "total_return"] == pytest.approx(np.prod(1 + net) - 1)
    # buy-and-hold pays one entry
    assert result.trading.loc["buy_and_hold", "total_return"] == pytest.approx(
        (1 + np.expm1(LOG_RETURNS[0]) - 10e-4) * np.prod(np.exp(LOG_RETURNS[1:])) - 1
    )


def test_vol_targeting_at_the_target_variance_is_constant_exposure() -> None:
    predictions = pd.DataFrame({"timestamp": STAMPS, "forecast_variance": 1e-4, "model": "har"})
    table = vol_target_table(
        predictions,
        models=["har"],
        next_returns=pd.Series(LOG_RETURNS, index=STAMPS),
        target_variance=1e-4,
        params=TradingParams(cost_bps=1.0),
        interval="1h",
    )
    np.testing.assert_array_equal(
        table.loc[["vol_target_har"]].to_numpy(), table.loc[["constant_exposure"]].to_numpy()
    )
    doubled = vol_target_table(
        predictions.assign(forecast_variance=0.25e-4),
        models=["har"],
        next_returns=pd.Series(LOG_RETURNS, index=STAMPS),
        target_variance=1e-4,
        params=TradingParams(cost_bps=0.0, slippage_bps=0.0, max_leverage=5.0),
        interval="1h",
    )
    expected = np.prod(1 + 2 * np.expm1(LOG_RETURNS)) - 1
    assert doubled.loc["vol_target_har", "total_return"] == pytest.approx(expected)


def test_the_calibration_plot_is_a_png_of_the_table() -> None:
    from volcast.evaluation.plots import calibration_plot
    from volcast.evaluation.target_metrics import calibration_table

    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.7, 500)
    table = calibration_table(p, (rng.uniform(size=500) < p).astype(float))
    png = calibration_plot(table)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="mean_probability"):
        calibration_plot(table.drop(columns=["mean_probability"]))
