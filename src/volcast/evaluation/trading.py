"""Paper-trading backtests of forecasts (SPEC 20): what a forecast is worth as positions.

Conventions, the same for every strategy:

- ``positions[t]`` is decided at bar t's close from the forecast made there and held over the
  next bar; ``asset_returns[t]`` is the simple return from close t to close t+1 (what that
  position earns). Both are indexed by the bar the decision is made at, like the forecasts.
- Changing the position costs ``|position[t] - position[t-1]| * (cost_bps + slippage_bps)``
  basis points of equity at t (the first position is entered from flat). The position still
  open at the end is marked to market, not closed.
- Net returns compound into equity from 1. Ratios are annualised with ``periods_per_year``
  (:func:`volcast.schemas.bars_per_year` for a bar interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from volcast.errors import ModelError


@dataclass(frozen=True)
class TradingCosts:
    """Costs per unit of position traded, in basis points of equity."""

    cost_bps: float = 1.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cost_bps", "slippage_bps"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0.0:
                raise ModelError(f"{name} must be a finite number >= 0, got {value}")

    @property
    def rate(self) -> float:
        """Cost per unit traded as a fraction of equity."""
        return (self.cost_bps + self.slippage_bps) / 1e4


@dataclass(frozen=True)
class TradingResult:
    """One strategy's per-bar positions, net returns, equity curve and summary metrics."""

    positions: pd.Series
    returns: pd.Series
    equity: pd.Series
    metrics: dict[str, float] = field(default_factory=dict)


def _series(values: pd.Series | ArrayLike, name: str, index: pd.Index | None) -> pd.Series:
    series = (
        values.astype("float64")
        if isinstance(values, pd.Series)
        else pd.Series(np.asarray(values, dtype="float64"), index=index)
    )
    if series.empty:
        raise ModelError(f"{name} is empty")
    if not np.all(np.isfinite(series.to_numpy())):
        raise ModelError(f"{name} holds {int((~np.isfinite(series)).sum())} non-finite value(s)")
    return series.rename(name)


def simulate(
    positions: pd.Series | ArrayLike,
    asset_returns: pd.Series | ArrayLike,
    costs: TradingCosts,
    periods_per_year: float,
) -> TradingResult:
    """Trade ``positions`` against ``asset_returns`` (see the module's conventions)."""
    if not periods_per_year > 0.0:
        raise ModelError(f"periods_per_year must be > 0, got {periods_per_year}")
    returns = _series(asset_returns, "asset_returns", None)
    held = _series(positions, "positions", returns.index)
    if not held.index.equals(returns.index):
        raise ModelError(
            f"positions ({len(held)} bars) and asset_returns ({len(returns)} bars) are not "
            "indexed by the same bars"
        )
    if np.any(returns.to_numpy() <= -1.0):
        raise ModelError("asset_returns must be simple returns above -1")
    traded = held.diff().fillna(held).abs()
    net = held * returns - traded * costs.rate
    equity = (1.0 + net).cumprod().rename("equity")
    return TradingResult(
        positions=held,
        returns=net.rename("net_return"),
        equity=equity,
        metrics=trading_metrics(net, held, returns, periods_per_year),
    )


def trading_metrics(
    net_returns: pd.Series,
    positions: pd.Series,
    asset_returns: pd.Series,
    periods_per_year: float,
) -> dict[str, float]:
    """Total and annual return, Sharpe, Sortino, max drawdown, volatility, turnover, hit rate.

    ``sharpe`` and ``sortino`` are annualised means of the net per-bar returns over their
    standard deviation and downside deviation (root mean square of the negative ones), with
    no risk-free rate. ``max_drawdown`` is the largest fall of equity from a previous peak
    (starting equity 1 counts as a peak), a fraction. ``turnover`` is the mean position
    traded per bar; ``hit_rate`` the share of bars in the market whose gross return was
    positive (NaN when never in the market).
    """
    net = net_returns.to_numpy(dtype="float64")
    pos = positions.to_numpy(dtype="float64")
    gross = pos * asset_returns.to_numpy(dtype="float64")
    n = net.size
    equity = np.cumprod(1.0 + net)
    final = float(equity[-1])
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    std = float(np.std(net, ddof=1)) if n > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(net, 0.0) ** 2)))
    mean = float(net.mean())
    scale = math.sqrt(periods_per_year)
    in_market = pos != 0.0
    traded = np.abs(np.diff(np.concatenate([[0.0], pos])))
    return {
        "total_return": final - 1.0,
        "annual_return": (final ** (periods_per_year / n) - 1.0) if final > 0.0 else -1.0,
        "volatility": std * scale,
        "sharpe": mean / std * scale if std > 0.0 else math.nan,
        "sortino": mean / downside * scale if downside > 0.0 else math.nan,
        "max_drawdown": float(np.max(1.0 - equity / peaks)),
        "turnover": float(traded.mean()),
        "hit_rate": float(np.mean(gross[in_market] > 0.0)) if in_market.any() else math.nan,
        "exposure": float(np.mean(np.abs(pos))),
        "n_trades": float(np.count_nonzero(traded)),
        "n_bars": float(n),
    }


def positions_from_probability(
    probability_up: pd.Series, *, band: float = 0.0, allow_short: bool = True
) -> pd.Series:
    """Long (+1) when ``p > 0.5 + band``, short (-1, or flat without shorts) when
    ``p < 0.5 - band``, flat otherwise."""
    if not 0.0 <= band < 0.5:
        raise ModelError(f"band must be in [0, 0.5), got {band}")
    p = probability_up.astype("float64")
    short = -1.0 if allow_short else 0.0
    values = np.where(p > 0.5 + band, 1.0, np.where(p < 0.5 - band, short, 0.0))
    return pd.Series(values, index=p.index, name="position")


def positions_from_return_forecast(
    forecast_return: pd.Series, *, band: float = 0.0, allow_short: bool = True
) -> pd.Series:
    """Long when the forecast return is above ``band``, short (or flat) below ``-band``."""
    if band < 0.0:
        raise ModelError(f"band must be >= 0, got {band}")
    f = forecast_return.astype("float64")
    short = -1.0 if allow_short else 0.0
    values = np.where(f > band, 1.0, np.where(f < -band, short, 0.0))
    return pd.Series(values, index=f.index, name="position")


def vol_target_positions(
    forecast_variance: pd.Series, target_variance: float, *, max_leverage: float = 2.0
) -> pd.Series:
    """Long ``sqrt(target_variance / forecast_variance)``, capped at ``max_leverage``.

    Both variances are per bar. Choose ``target_variance`` from data known before the
    backtest (for example the training window's mean realised variance), never from the
    bars being traded.
    """
    if not (math.isfinite(target_variance) and target_variance > 0.0):
        raise ModelError(f"target_variance must be > 0, got {target_variance}")
    if not max_leverage > 0.0:
        raise ModelError(f"max_leverage must be > 0, got {max_leverage}")
    f = forecast_variance.astype("float64")
    if np.any(~np.isfinite(f.to_numpy()) | (f.to_numpy() <= 0.0)):
        raise ModelError("forecast_variance must be strictly positive and finite")
    scaled = np.minimum(np.sqrt(target_variance / f.to_numpy()), max_leverage)
    return pd.Series(scaled, index=f.index, name="position")


def buy_and_hold(
    asset_returns: pd.Series, costs: TradingCosts, periods_per_year: float
) -> TradingResult:
    """Constant exposure: long one unit from the first bar on (one entry cost)."""
    held = pd.Series(1.0, index=asset_returns.index, name="position")
    return simulate(held, asset_returns, costs, periods_per_year)


def trading_table(results: dict[str, TradingResult]) -> pd.DataFrame:
    """One row per strategy, one column per metric, in the order given."""
    if not results:
        raise ModelError("no trading results to tabulate")
    return pd.DataFrame({name: result.metrics for name, result in results.items()}).T
