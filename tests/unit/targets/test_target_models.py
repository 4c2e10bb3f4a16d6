"""Return and direction models: calibration inside the training window, shrinkage, selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.models.synthetic import simulate_bars
from volcast.config import FeatureParams, TargetParams, TradingParams, TrainParams
from volcast.evaluation.target_backtest import (
    OUTPUT_COLUMNS,
    target_rows,
    walk_forward_target,
)
from volcast.evaluation.target_metrics import expanding_base_rate
from volcast.evaluation.target_trading import trading_backtest
from volcast.features import FeatureBuilder, build_dataset
from volcast.models.targets import (
    BaseRateModel,
    LightGbmDirectionModel,
    LightGbmReturnModel,
    make_target_model,
)

FAST = TrainParams(
    min_train_bars=400,
    refit_every=300,
    lightgbm={**TrainParams().lightgbm, "n_estimators": 40, "min_child_samples": 50},
)
FIXED = {"floor_source": "fixed", "floor": 1e-10}


def _data(bars: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, list[str]]:
    target = TargetParams(kind=kind, **FIXED)
    names = FeatureBuilder(features=FeatureParams(), target=target, interval="1h").feature_names
    return build_dataset(bars, features=FeatureParams(), target=target, interval="1h"), names


def _planted(n: int, *, seed: int) -> pd.DataFrame:
    """Bars whose next close goes up with probability 0.5 + 0.35 * sign(this bar's return)."""
    bars = simulate_bars(n, seed=seed)
    rng = np.random.default_rng(seed)
    close = bars["close"].to_numpy().copy()
    step = 1e-3
    prev = 0.0
    for t in range(1, n):
        p_up = 0.5 + 0.35 * np.sign(prev)
        move = step if rng.uniform() < p_up else -step
        close[t] = close[t - 1] * np.exp(move)
        prev = move
    out = bars.copy()
    out["open"] = np.r_[close[0], close[:-1]]
    out["close"] = close
    out["high"] = np.maximum(out["open"], out["close"]) * (1 + 2e-4)
    out["low"] = np.minimum(out["open"], out["close"]) * (1 - 2e-4)
    return out


def _xy(frame: pd.DataFrame, rows: slice) -> tuple[pd.DataFrame, pd.Series]:
    part = frame.iloc[rows]
    return part.drop(columns=["target"]), part["target"]


def test_calibration_never_reads_bars_after_the_training_window() -> None:
    """Refitting on the same training rows after the later bars changed gives the same
    calibrator and the same forecasts: the held-out tail lies inside the window."""
    bars = _planted(1600, seed=3)
    changed = bars.copy()
    later = slice(1200, None)
    for column in ("open", "high", "low", "close"):
        changed.loc[changed.index[later], column] = changed[column].iloc[later].to_numpy()[::-1]
    a, names = _data(bars, "direction")
    b, _ = _data(changed, "direction")
    rows_a, rows_b = target_rows(a, names), target_rows(b, names)
    window = slice(0, 900)  # labelled rows well before bar 1200
    assert rows_a["timestamp"].iloc[900] < bars["timestamp"].iloc[1199]
    fits = []
    for rows in (rows_a, rows_b):
        X, y = _xy(rows, window)
        fits.append(
            LightGbmDirectionModel(params=dict(FAST.lightgbm), features=tuple(names)).fit(X, y)
        )
    assert fits[0].platt_ == fits[1].platt_
    assert fits[0].platt_ is not None  # the planted signal is found and calibrated
    X_test, _ = _xy(rows_a, slice(900, 1000))
    np.testing.assert_array_equal(fits[0].predict(X_test), fits[1].predict(X_test))
    ret = [
        LightGbmReturnModel(params=dict(FAST.lightgbm), features=tuple(names)).fit(
            *_xy(target_rows(_data(x, "return")[0], names), window)
        )
        for x in (bars, changed)
    ]
    assert ret[0].slope_ == ret[1].slope_


def test_no_signal_shrinks_to_the_naive_forecast() -> None:
    bars = simulate_bars(1400, seed=8)  # a random walk: nothing to predict
    direction, names = _data(bars, "direction")
    X, y = _xy(target_rows(direction, names), slice(0, 1000))
    model = LightGbmDirectionModel(params=dict(FAST.lightgbm), features=tuple(names)).fit(X, y)
    assert model.platt_ is None
    X_new, _ = _xy(target_rows(direction, names), slice(1000, 1100))
    base = BaseRateModel().fit(X, y)
    np.testing.assert_array_equal(model.predict(X_new), base.predict(X_new))
    returns, _ = _data(bars, "return")
    X, y = _xy(target_rows(returns, names), slice(0, 1000))
    reg = LightGbmReturnModel(params=dict(FAST.lightgbm), features=tuple(names)).fit(X, y)
    assert reg.slope_ == 0.0
    assert np.all(reg.predict(X_new) == 0.0)


def test_base_rate_is_the_expanding_rate_known_before_each_bar() -> None:
    bars = simulate_bars(900, seed=4)
    data, names = _data(bars, "direction")
    rows = target_rows(data, names)
    X, y = rows.drop(columns=["target"]), rows["target"]
    model = BaseRateModel().fit(X.iloc[:500], y.iloc[:500])
    forecast = model.predict(X)[501:]  # rows after the training rows (and the purged one)
    expected = expanding_base_rate(y.to_numpy())[501:]
    np.testing.assert_allclose(forecast, np.clip(expected, 0.001, 0.999))


@pytest.mark.parametrize("kind", ["direction", "return"])
def test_walk_forward_selection_and_floor(kind: str) -> None:
    bars = _planted(1500, seed=5) if kind == "direction" else simulate_bars(1500, seed=5)
    data, names = _data(bars, kind)
    result = walk_forward_target(data, kind=kind, train=FAST, feature_names=names)
    result = trading_backtest(result, params=TradingParams(), interval="1h")
    assert list(result.predictions.columns[:4]) == OUTPUT_COLUMNS[kind]
    stamps = {m: tuple(g["timestamp"]) for m, g in result.predictions.groupby("model")}
    assert len(set(stamps.values())) == 1  # every model on the same bars
    losses = result.metrics[result.primary]
    assert losses[result.selected] <= losses[result.best_baseline]
    assert "buy_and_hold" in result.trading.index
    assert {"sharpe", "max_drawdown", "turnover", "hit_rate"} <= set(result.trading.columns)
    if kind == "direction":
        # the planted dependence on the last return is the logistic baseline's own model;
        # the learned model finds it too, calibrated, well above the base rate
        assert result.selected in ("logistic", "lightgbm_direction")
        assert result.metrics.loc["base_rate", "brier"] == pytest.approx(
            result.metrics.loc["base_rate", "brier_base_rate"], rel=1e-3
        )
        assert result.metrics["brier_skill"].astype(float)["lightgbm_direction"] > 0.1
        p = result.predictions["probability_up"]
        assert p.between(0.0, 1.0).all()
    else:
        assert result.metrics["r2_oos"].astype(float)["zero"] == 0.0
        assert result.metrics["r2_oos"].astype(float)[result.selected] >= 0.0


def test_unknown_model_of_a_kind_is_named() -> None:
    with pytest.raises(Exception, match="lightgbm_return"):
        make_target_model("lightgbm_return", kind="direction", params=FAST)
