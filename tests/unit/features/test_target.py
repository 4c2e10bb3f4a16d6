"""The forecast target: floored variance of the coming bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.features.bars import random_walk_bars
from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError, DataQualityError
from volcast.features import (
    build_dataset,
    build_target,
    logged_target,
    realized_variance,
    resolve_target,
    variance_estimators,
)
from volcast.models.spec import ModelSpec


def test_default_target_is_the_next_bars_floored_gk() -> None:
    bars = random_walk_bars(60, seed=2, flat_every=7)
    params = TargetParams()
    target = build_target(bars, params=params)
    rv = realized_variance(bars, estimator="garman_klass", floor=params.floor).to_numpy()
    assert target.name == "target"
    assert target.index.equals(bars.index)
    np.testing.assert_array_equal(target.to_numpy()[:-1], rv[1:])
    assert np.isnan(target.iloc[-1])
    assert (target.dropna() >= params.floor).all()
    assert (target.dropna() == params.floor).any()  # the flat bars


def test_horizon_two_sums_the_next_two_bars() -> None:
    bars = random_walk_bars(40, seed=4)
    params = TargetParams(horizon=2)
    target = build_target(bars, params=params).to_numpy()
    rv = realized_variance(bars, estimator=params.estimator, floor=params.floor).to_numpy()
    for t in range(len(bars) - 2):
        assert target[t] == pytest.approx(rv[t + 1] + rv[t + 2], rel=1e-12)
    assert np.isnan(target[-2:]).all()


@pytest.mark.parametrize("horizon", [1, 3])
def test_target_at_t_changes_with_bar_t_plus_1_only_within_its_horizon(horizon: int) -> None:
    bars = random_walk_bars(50, seed=6)
    params = TargetParams(horizon=horizon)
    t = 20
    changed = bars.copy()
    changed.loc[t + 1, "high"] *= 1.01  # a wider range on bar t+1
    before = build_target(bars, params=params).to_numpy()
    after = build_target(changed, params=params).to_numpy()
    assert after[t] > before[t]
    affected = range(t + 1 - horizon, t + 1)  # rows whose window t'+1..t'+h holds bar t+1
    unaffected = [i for i in range(len(bars) - horizon) if i not in affected]
    np.testing.assert_array_equal(after[unaffected], before[unaffected])


def test_estimator_choice_changes_the_target() -> None:
    bars = random_walk_bars(60, seed=8)
    gk = build_target(bars, params=TargetParams(estimator="garman_klass"))
    pk = build_target(bars, params=TargetParams(estimator="parkinson"))
    cc = build_target(bars, params=TargetParams(estimator="close_to_close"))
    assert not np.allclose(gk.dropna(), pk.dropna())
    assert not np.allclose(gk.dropna(), cc.dropna())
    rv_pk = realized_variance(bars, estimator="parkinson", floor=1e-10).to_numpy()
    np.testing.assert_array_equal(pk.to_numpy()[:-1], rv_pk[1:])


def test_input_not_mutated() -> None:
    bars = random_walk_bars(30, seed=9)
    before = bars.copy(deep=True)
    build_target(bars, params=TargetParams(horizon=3))
    pd.testing.assert_frame_equal(bars, before)


# ---------------------------------------------------------------- the data-driven floor


def test_data_driven_floor_is_the_quantile_of_positive_variances_of_the_window() -> None:
    bars = random_walk_bars(600, seed=5, flat_every=9)
    raw = variance_estimators(bars)["var_gk"].to_numpy()
    assert (raw[:300] == 0.0).any()  # flat bars in the window
    resolved = resolve_target(bars, TargetParams(floor_quantile=0.05, floor_bars=300))
    head = raw[:300]
    assert resolved.floor == pytest.approx(float(np.quantile(head[head > 0], 0.05)), rel=1e-12)
    assert resolved.floor_source == "fixed"
    assert resolved.floor > 1e-8  # an ordinary small variance, not 1e-10
    # resolving a fixed section is the identity
    assert resolve_target(bars.iloc[::-1].reset_index(drop=True), resolved) == resolved


def test_floor_ignores_bars_after_its_window() -> None:
    bars = random_walk_bars(600, seed=6)
    changed = bars.copy()
    changed.loc[300:, ["open", "high", "low", "close"]] *= 1.0 + np.linspace(0, 0.5, 300)[:, None]
    changed.loc[300:, "high"] *= 1.2
    first = TargetParams(floor_bars=300)
    assert resolve_target(bars, first) == resolve_target(changed, first)
    # by default the floor is estimated on every bar the dataset is built from
    assert (
        resolve_target(bars, TargetParams()).floor != resolve_target(changed, TargetParams()).floor
    )


def test_zero_range_bars_get_exactly_the_floor_in_target_rv_and_features() -> None:
    bars = random_walk_bars(400, seed=7, flat_every=11)
    features = FeatureParams(lags=3, windows=(4,), weekly_window=24, har_windows=(1, 4))
    data = build_dataset(bars, features=features, target=TargetParams(), interval="1h")
    floor = resolve_target(bars, TargetParams()).floor
    raw = variance_estimators(bars)["var_gk"].to_numpy()
    flat = np.flatnonzero(raw <= 0.0)
    assert flat.size > 10
    np.testing.assert_array_equal(data["rv"].to_numpy()[flat], floor)
    np.testing.assert_array_equal(data["log_rv"].to_numpy()[flat], np.log(floor))
    np.testing.assert_array_equal(data["target"].to_numpy()[flat[flat > 0] - 1], floor)
    assert data["rv"].min() == floor
    assert (data["target"].dropna() >= floor).all()


def test_every_bar_flat_is_a_clear_error() -> None:
    bars = random_walk_bars(50, seed=8)
    for column in ("open", "high", "low"):
        bars[column] = bars["close"]
    with pytest.raises(DataQualityError, match="flat"):
        resolve_target(bars, TargetParams())


def test_sections_logged_before_the_data_driven_floor_read_as_fixed() -> None:
    old = {"horizon": 1, "estimator": "garman_klass", "floor": 1e-10}
    assert logged_target(old).floor_source == "fixed"
    assert ModelSpec.from_dict({"feature_names": ["rv"], "target": old}).target == logged_target(
        old
    )
    new = TargetParams(floor=3e-7, floor_source="fixed")
    # a logged model config drops None values but keeps the resolved floor and its source
    spec = ModelSpec(feature_names=("rv",), target=new)
    assert ModelSpec.from_dict(spec.to_dict()).target == new
    # a section logged unresolved is served at its floor, never re-estimated from live bars
    assert logged_target({"floor": 2e-7, "floor_source": "quantile"}) == TargetParams(
        floor=2e-7, floor_source="fixed"
    )
    with pytest.raises(ConfigError):
        logged_target({"floor": -1.0})
