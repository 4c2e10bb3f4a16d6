"""Paper trading of the return and direction forecasts against buy-and-hold (SPEC 20).

Each model's out-of-sample forecasts become positions at every bar (long above 0.5 + band /
above +band, short below the mirror, flat between; :mod:`volcast.evaluation.trading`), held
over the next bar and charged ``cost_bps + slippage_bps`` per unit traded; buy-and-hold is the
benchmark on the same bars. The asset's simple return over the next bar is
``exp(realized log return) - 1``. For the variance target, :func:`vol_target_table` holds a
volatility-targeted long position against constant exposure (the business value of a better
variance forecast).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from volcast.config import TradingParams
from volcast.evaluation.target_backtest import FORECAST_COLUMN, TargetBacktestResult
from volcast.evaluation.trading import (
    TradingCosts,
    TradingResult,
    buy_and_hold,
    positions_from_probability,
    positions_from_return_forecast,
    simulate,
    trading_table,
    vol_target_positions,
)
from volcast.schemas import TIMESTAMP, bars_per_year

BUY_AND_HOLD = "buy_and_hold"


def strategy_results(
    result: TargetBacktestResult, *, params: TradingParams, interval: str
) -> dict[str, TradingResult]:
    """Every model's strategy and buy-and-hold, by name, on the scored bars."""
    costs = TradingCosts(cost_bps=params.cost_bps, slippage_bps=params.slippage_bps)
    per_year = bars_per_year(interval)
    column = FORECAST_COLUMN[result.kind]
    out: dict[str, TradingResult] = {}
    asset: pd.Series | None = None
    for name, group in result.predictions.groupby("model", sort=False):
        frame = group.set_index(TIMESTAMP)
        log_return = frame["realized_return"].astype("float64")
        asset = pd.Series(np.expm1(log_return.to_numpy()), index=frame.index, name="asset")
        forecast = frame[column].astype("float64")
        if result.kind == "direction":
            positions = positions_from_probability(
                forecast, band=params.band, allow_short=params.allow_short
            )
        else:
            positions = positions_from_return_forecast(
                forecast, band=params.return_band, allow_short=params.allow_short
            )
        out[str(name)] = simulate(positions, asset, costs, per_year)
    if asset is not None:
        out[BUY_AND_HOLD] = buy_and_hold(asset, costs, per_year)
    return out


def trading_backtest(
    result: TargetBacktestResult, *, params: TradingParams, interval: str
) -> TargetBacktestResult:
    """``result`` with its ``trading`` table (one row per strategy) filled in."""
    table = trading_table(strategy_results(result, params=params, interval=interval))
    table.index.name = "strategy"
    return dataclasses.replace(result, trading=table)


def vol_target_table(
    predictions: pd.DataFrame,
    *,
    models: list[str],
    next_returns: pd.Series,
    target_variance: float,
    params: TradingParams,
    interval: str,
) -> pd.DataFrame:
    """Volatility-targeted long positions from variance forecasts against constant exposure.

    ``predictions`` are a variance backtest's rows (``timestamp``, ``forecast_variance``,
    ``model``); ``next_returns`` the next bar's log return by timestamp; each model in
    ``models`` is held long at ``sqrt(target_variance / forecast)`` (capped at
    ``params.max_leverage``), ``constant_exposure`` long one unit. Choose
    ``target_variance`` from bars before the first scored one.
    """
    costs = TradingCosts(cost_bps=params.cost_bps, slippage_bps=params.slippage_bps)
    per_year = bars_per_year(interval)
    results: dict[str, TradingResult] = {}
    asset: pd.Series | None = None
    for name in models:
        rows = predictions[predictions["model"] == name].set_index(TIMESTAMP)
        log_return = next_returns.reindex(rows.index)
        keep = log_return.notna().to_numpy()
        rows, log_return = rows[keep], log_return[keep]
        asset = pd.Series(np.expm1(log_return.to_numpy()), index=rows.index, name="asset")
        positions = vol_target_positions(
            rows["forecast_variance"].astype("float64"),
            target_variance,
            max_leverage=params.max_leverage,
        )
        results[f"vol_target_{name}"] = simulate(positions, asset, costs, per_year)
    if asset is not None:
        results["constant_exposure"] = buy_and_hold(asset, costs, per_year)
    table = trading_table(results)
    table.index.name = "strategy"
    return table
