"""The forecast target: floored variance of the coming bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.features.bars import random_walk_bars
from volcast.config import TargetParams
from volcast.features import build_target, realized_variance


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
