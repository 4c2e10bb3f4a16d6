"""The paper-trading accounting on cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ModelError
from volcast.evaluation.trading import (
    TradingCosts,
    buy_and_hold,
    positions_from_probability,
    positions_from_return_forecast,
    simulate,
    trading_table,
    vol_target_positions,
)

INDEX = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
RETURNS = pd.Series([0.01, 0.02, -0.01, 0.03], index=INDEX)


def test_a_flat_position_earns_and_pays_nothing() -> None:
    result = simulate(pd.Series(0.0, index=INDEX), RETURNS, TradingCosts(10.0, 5.0), 8760)
    assert (result.returns == 0.0).all()
    assert (result.equity == 1.0).all()
    m = result.metrics
    assert m["total_return"] == 0.0
    assert m["turnover"] == 0.0
    assert m["n_trades"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert math.isnan(m["hit_rate"])
    assert math.isnan(m["sharpe"])


def test_a_single_round_trip_pays_its_costs_once_each_way() -> None:
    positions = pd.Series([0.0, 1.0, 1.0, 0.0], index=INDEX)
    result = simulate(positions, RETURNS, TradingCosts(cost_bps=8.0, slippage_bps=2.0), 8760)
    # enter at bar 1 (10 bp), earn 2 %, lose 1 %, exit at bar 3 (10 bp), flat over +3 %
    expected = [0.0, 0.02 - 0.001, -0.01, -0.001]
    np.testing.assert_allclose(result.returns.to_numpy(), expected)
    np.testing.assert_allclose(result.equity.iloc[-1], 1.019 * 0.99 * 0.999)
    m = result.metrics
    assert m["n_trades"] == 2.0
    assert m["turnover"] == pytest.approx(0.5)
    assert m["hit_rate"] == pytest.approx(0.5)
    assert m["exposure"] == pytest.approx(0.5)
    assert m["max_drawdown"] == pytest.approx(1.0 - 1.019 * 0.99 * 0.999 / 1.019)
    assert m["total_return"] == pytest.approx(1.019 * 0.99 * 0.999 - 1.0)


def test_buy_and_hold_pays_one_entry_and_compounds() -> None:
    result = buy_and_hold(RETURNS, TradingCosts(cost_bps=5.0, slippage_bps=5.0), 8760)
    np.testing.assert_allclose(result.returns.to_numpy(), [0.009, 0.02, -0.01, 0.03])
    assert result.metrics["total_return"] == pytest.approx(1.009 * 1.02 * 0.99 * 1.03 - 1.0)
    assert result.metrics["n_trades"] == 1.0
    assert result.metrics["hit_rate"] == pytest.approx(0.75)


def test_a_short_earns_the_fall_and_reversing_trades_two_units() -> None:
    positions = pd.Series([-1.0, -1.0, 1.0, 1.0], index=INDEX)
    result = simulate(positions, RETURNS, TradingCosts(cost_bps=10.0), 8760)
    np.testing.assert_allclose(
        result.returns.to_numpy(), [-0.01 - 0.001, -0.02, -0.01 - 0.002, 0.03]
    )
    assert result.metrics["turnover"] == pytest.approx(3.0 / 4.0)


def test_ratios_are_annualised_from_the_net_returns() -> None:
    rng = np.random.default_rng(3)
    index = pd.date_range("2024-01-01", periods=500, freq="D", tz="UTC")
    returns = pd.Series(rng.normal(0.0005, 0.01, 500), index=index)
    result = buy_and_hold(returns, TradingCosts(cost_bps=0.0), 252)
    net = returns.to_numpy()
    assert result.metrics["sharpe"] == pytest.approx(net.mean() / net.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(net, 0.0) ** 2))
    assert result.metrics["sortino"] == pytest.approx(net.mean() / downside * math.sqrt(252))
    equity = np.cumprod(1 + net)
    peak, worst = 1.0, 0.0  # the starting equity is the first peak
    for value in equity:
        peak = max(peak, value)
        worst = max(worst, 1.0 - value / peak)
    assert result.metrics["max_drawdown"] == pytest.approx(worst)
    assert result.metrics["annual_return"] == pytest.approx(equity[-1] ** (252 / 500) - 1)


def test_signals_become_positions_with_a_band() -> None:
    p = pd.Series([0.70, 0.52, 0.50, 0.45, 0.20], index=pd.RangeIndex(5))
    assert positions_from_probability(p, band=0.03).tolist() == [1.0, 0.0, 0.0, -1.0, -1.0]
    assert positions_from_probability(p, allow_short=False).tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
    f = pd.Series([0.002, -0.0001, 0.0, -0.003], index=pd.RangeIndex(4))
    assert positions_from_return_forecast(f, band=0.001).tolist() == [1.0, 0.0, 0.0, -1.0]


def test_vol_targeting_scales_inversely_to_the_forecast_volatility_and_caps() -> None:
    forecast = pd.Series([4e-4, 1e-4, 1e-6], index=pd.RangeIndex(3))
    positions = vol_target_positions(forecast, 1e-4, max_leverage=2.0)
    assert positions.tolist() == pytest.approx([0.5, 1.0, 2.0])
    with pytest.raises(ModelError, match="target_variance"):
        vol_target_positions(forecast, 0.0)
    with pytest.raises(ModelError, match="forecast_variance"):
        vol_target_positions(pd.Series([1e-4, -1.0]), 1e-4)


def test_bad_input_is_named() -> None:
    with pytest.raises(ModelError, match="same bars"):
        simulate(pd.Series(1.0, index=INDEX[:3]), RETURNS, TradingCosts(), 8760)
    with pytest.raises(ModelError, match="positions holds 1 non-finite"):
        simulate(pd.Series([1.0, np.nan, 1.0, 1.0], index=INDEX), RETURNS, TradingCosts(), 8760)
    with pytest.raises(ModelError, match="cost_bps"):
        TradingCosts(cost_bps=-1.0)
    with pytest.raises(ModelError, match="periods_per_year"):
        simulate(pd.Series(1.0, index=INDEX), RETURNS, TradingCosts(), 0)


def test_the_table_has_a_row_per_strategy() -> None:
    costs = TradingCosts(cost_bps=1.0)
    table = trading_table(
        {
            "buy_and_hold": buy_and_hold(RETURNS, costs, 8760),
            "flat": simulate(pd.Series(0.0, index=INDEX), RETURNS, costs, 8760),
        }
    )
    assert list(table.index) == ["buy_and_hold", "flat"]
    assert table.loc["flat", "total_return"] == 0.0
    assert table.loc["buy_and_hold", "total_return"] > 0.0
