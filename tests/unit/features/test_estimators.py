"""Per-bar variance estimators and the floored realized variance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.unit.features.bars import random_walk_bars
from volcast.errors import ConfigError, DataQualityError
from volcast.features import ESTIMATOR_COLUMNS, realized_variance, variance_estimators


def _bar_from_logs(
    *, open_: float, log_high: float, log_low: float, log_close: float
) -> dict[str, float]:
    return {
        "open": open_,
        "high": open_ * math.exp(log_high),
        "low": open_ * math.exp(log_low),
        "close": open_ * math.exp(log_close),
    }


def _bars(rows: list[dict[str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame.insert(
        0, "timestamp", pd.date_range("2024-01-01", periods=len(rows), freq="1h", tz="UTC")
    )
    frame["volume"] = np.nan
    return frame


def test_known_values_on_a_hand_computed_bar() -> None:
    # ln(H/O) = 0.03, ln(L/O) = -0.01, ln(C/O) = 0.01, so ln(H/L) = 0.04
    # GK = 0.5 * 0.04^2 - (2 ln 2 - 1) * 0.01^2 = 0.0008 - 0.386294361 * 0.0001
    # Parkinson = 0.04^2 / (4 ln 2) = 0.0016 / 2.772588722
    # RS = ln(H/C) ln(H/O) + ln(L/C) ln(L/O) = 0.02 * 0.03 + (-0.02) * (-0.01) = 0.0008
    # close-to-close from the previous close 100 to 100 * e^0.01: 0.01^2
    previous = {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0}
    bar = _bar_from_logs(open_=100.0, log_high=0.03, log_low=-0.01, log_close=0.01)
    est = variance_estimators(_bars([previous, bar])).iloc[1]
    assert est["var_gk"] == pytest.approx(0.0007613705639, rel=1e-9)
    assert est["var_parkinson"] == pytest.approx(0.000577078016, rel=1e-9)
    assert est["var_rs"] == pytest.approx(0.0008, rel=1e-9)
    assert est["var_cc"] == pytest.approx(0.0001, rel=1e-9)


def test_one_row_per_bar_on_the_same_index_and_first_close_to_close_is_nan() -> None:
    bars = random_walk_bars(50, seed=3)
    bars.index = pd.RangeIndex(100, 150)
    est = variance_estimators(bars)
    assert list(est.columns) == ["var_cc", "var_parkinson", "var_gk", "var_rs"]
    assert est.index.equals(bars.index)
    assert (est.dtypes == "float64").all()
    assert np.isnan(est["var_cc"].iloc[0])
    assert est.iloc[1:].notna().all().all()
    assert (est[["var_parkinson", "var_rs", "var_cc"]].iloc[1:] >= 0).all().all()


def test_flat_bar_gives_zero_gk_and_the_floor_in_realized_variance() -> None:
    flat = {"open": 1.1, "high": 1.1, "low": 1.1, "close": 1.1}
    moving = _bar_from_logs(open_=1.1, log_high=0.002, log_low=-0.001, log_close=0.001)
    bars = _bars([moving, flat, moving])
    assert variance_estimators(bars)["var_gk"].iloc[1] == 0.0
    rv = realized_variance(bars, estimator="garman_klass", floor=1e-10)
    assert rv.name == "rv"
    assert rv.iloc[1] == 1e-10
    assert rv.iloc[0] == pytest.approx(variance_estimators(bars)["var_gk"].iloc[0])


def test_floor_lifts_near_flat_bars_but_leaves_the_others() -> None:
    tiny = _bar_from_logs(open_=1.0, log_high=1e-7, log_low=-1e-7, log_close=0.0)
    normal = _bar_from_logs(open_=1.0, log_high=0.01, log_low=-0.01, log_close=0.005)
    bars = _bars([tiny, normal])
    gk = variance_estimators(bars)["var_gk"]
    assert 0.0 < gk.iloc[0] < 1e-10 < gk.iloc[1]
    rv = realized_variance(bars, estimator="garman_klass", floor=1e-10)
    assert rv.iloc[0] == 1e-10
    assert rv.iloc[1] == gk.iloc[1]


@pytest.mark.parametrize(("name", "column"), sorted(ESTIMATOR_COLUMNS.items()))
def test_realized_variance_selects_the_estimator(name: str, column: str) -> None:
    bars = random_walk_bars(40, seed=5)
    by_name = realized_variance(bars, estimator=name, floor=1e-12)
    by_column = realized_variance(bars, estimator=column, floor=1e-12)
    expected = variance_estimators(bars)[column].clip(lower=1e-12)
    np.testing.assert_array_equal(by_name.to_numpy(), expected.to_numpy())
    np.testing.assert_array_equal(by_column.to_numpy(), expected.to_numpy())


def test_unknown_estimator_and_bad_floor_raise_config_error() -> None:
    bars = random_walk_bars(10)
    with pytest.raises(ConfigError, match="yang_zhang"):
        realized_variance(bars, estimator="yang_zhang", floor=1e-10)
    with pytest.raises(ConfigError, match="floor"):
        realized_variance(bars, estimator="garman_klass", floor=0.0)


def test_missing_price_column_names_it() -> None:
    bars = random_walk_bars(10).drop(columns=["high"])
    with pytest.raises(DataQualityError, match="high") as info:
        variance_estimators(bars)
    assert info.value.failed_checks == ["required_columns"]


def test_inputs_are_not_mutated() -> None:
    bars = random_walk_bars(30, seed=1)
    before = bars.copy(deep=True)
    variance_estimators(bars)
    realized_variance(bars, estimator="parkinson", floor=1e-10)
    pd.testing.assert_frame_equal(bars, before)
