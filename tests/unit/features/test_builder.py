"""The feature builder: no look-ahead, no training/serving skew, complete after warm-up."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.features.bars import random_walk_bars
from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError, DataQualityError
from volcast.features import (
    SEASONAL_OBSERVATIONS,
    FeatureBuilder,
    build_dataset,
    realized_variance,
)


@dataclass(frozen=True)
class Case:
    n: int
    interval: str
    features: FeatureParams
    target: TargetParams
    weekend_gaps: bool = False
    flat_every: int = 0
    drop_fraction: float = 0.0  # bars missing at random: windows in bars, not hours

    def builder(self) -> FeatureBuilder:
        return FeatureBuilder(features=self.features, target=self.target, interval=self.interval)


FIXED = TargetParams(floor_source="fixed")  # these cases test the builder at a given floor

CASES = {
    "fx_1h_defaults": Case(900, "1h", FeatureParams(), FIXED, weekend_gaps=True, flat_every=13),
    "1h_missing_bars": Case(
        900,
        "1h",
        FeatureParams(lags=6, windows=(4, 24), weekly_window=48, har_windows=(1, 24)),
        FIXED,
        drop_fraction=0.15,
    ),
    "daily": Case(
        400,
        "1d",
        FeatureParams(lags=5, windows=(5, 10, 21), weekly_window=63, har_windows=(1, 5, 22)),
        FIXED,
    ),
    "15min_close_to_close_h3": Case(
        2300,
        "15min",
        FeatureParams(lags=4, windows=(4, 8), weekly_window=96, har_windows=(1, 4, 96)),
        TargetParams(estimator="close_to_close", horizon=3, floor_source="fixed"),
    ),
    "4h_rogers_satchell": Case(
        400,
        "4h",
        FeatureParams(lags=3, windows=(2, 6), weekly_window=42, har_windows=(1, 6, 42)),
        TargetParams(estimator="rogers_satchell", floor_source="fixed"),
        weekend_gaps=True,
    ),
    "4h_no_calendar_no_profile": Case(
        200,
        "4h",
        FeatureParams(
            lags=3,
            windows=(2, 6),
            weekly_window=42,
            har_windows=(1, 6),
            calendar=False,
            seasonal_profile=False,
        ),
        FIXED,
    ),
}


@cache
def _bars(name: str, seed: int = 11) -> pd.DataFrame:
    case = CASES[name]
    bars = random_walk_bars(
        case.n,
        seed=seed,
        interval=case.interval,
        weekend_gaps=case.weekend_gaps,
        flat_every=case.flat_every,
    )
    if case.drop_fraction:
        keep = np.random.default_rng(seed).random(len(bars)) >= case.drop_fraction
        bars = bars[keep].reset_index(drop=True)
    return bars


@cache
def _features(name: str) -> pd.DataFrame:
    return CASES[name].builder().transform(_bars(name))


def _replace_after(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """Bars up to t unchanged, every later bar's prices and volume replaced."""
    other = random_walk_bars(len(bars), seed=seed + 1000, weekend_gaps=False)
    changed = bars.copy()
    cols = ["open", "high", "low", "close", "volume"]
    changed.loc[t + 1 :, cols] = other.loc[t + 1 :, cols].to_numpy() * 1.3
    return changed


# ---------------------------------------------------------------- no look-ahead


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(sorted(CASES)),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
)
def test_features_at_t_never_depend_on_later_bars(name: str, fraction: float, seed: int) -> None:
    case = CASES[name]
    bars = _bars(name)
    t = min(int(fraction * (len(bars) - 1)), len(bars) - 2)
    builder = case.builder()
    expected = _features(name).iloc[: t + 1]
    changed = _replace_after(bars, t, seed)
    assert not np.allclose(changed["close"].iloc[t + 1 :], bars["close"].iloc[t + 1 :])
    pd.testing.assert_frame_equal(builder.transform(changed).iloc[: t + 1], expected)
    pd.testing.assert_frame_equal(builder.transform(bars.iloc[: t + 1]), expected)
    # the target's inputs (rv of bars <= t) do not move either
    est, floor = case.target.estimator, case.target.floor
    np.testing.assert_array_equal(
        realized_variance(changed, estimator=est, floor=floor).iloc[: t + 1],
        realized_variance(bars, estimator=est, floor=floor).iloc[: t + 1],
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_target_is_the_future_and_features_the_past(name: str) -> None:
    case = CASES[name]
    bars = _bars(name)
    t = len(bars) // 2
    changed = _replace_after(bars, t, seed=3)
    before = build_dataset(bars, features=case.features, target=case.target, interval=case.interval)
    after = build_dataset(
        changed, features=case.features, target=case.target, interval=case.interval
    )
    assert after["target"].iloc[t] != before["target"].iloc[t]
    names = case.builder().feature_names
    pd.testing.assert_frame_equal(after[names].iloc[: t + 1], before[names].iloc[: t + 1])
    np.testing.assert_array_equal(after["rv"].iloc[: t + 1], before["rv"].iloc[: t + 1])


# ---------------------------------------------------------------- no skew


@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_last_equals_the_last_row_of_transform(name: str) -> None:
    builder = CASES[name].builder()
    bars = _bars(name)
    names = builder.feature_names
    last = builder.transform_last(bars)
    assert list(last.index) == names
    assert last.dtype == "float64"
    assert last.name == bars["timestamp"].iloc[-1]
    full_row = _features(name)[names].iloc[-1].to_numpy(dtype="float64")
    tail_row = builder.transform(bars.tail(builder.required_history))[names].iloc[-1]
    np.testing.assert_allclose(last.to_numpy(), full_row, rtol=1e-9, atol=0)
    np.testing.assert_allclose(tail_row.to_numpy(dtype="float64"), full_row, rtol=1e-9, atol=0)
    assert not last.isna().any()


@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_last_reads_only_the_required_tail(name: str) -> None:
    builder = CASES[name].builder()
    bars = _bars(name)
    early = len(bars) - builder.required_history
    garbage = bars.copy()
    garbage.loc[: early - 1, ["open", "high", "low", "close"]] = 1e6
    pd.testing.assert_series_equal(builder.transform_last(garbage), builder.transform_last(bars))


def test_transform_last_on_short_history_matches_transform_with_its_nans() -> None:
    builder = CASES["fx_1h_defaults"].builder()
    bars = _bars("fx_1h_defaults").head(30)
    last = builder.transform_last(bars)
    row = builder.transform(bars)[builder.feature_names].iloc[-1].to_numpy(dtype="float64")
    assert last.isna().any()
    np.testing.assert_allclose(last.to_numpy(), row, rtol=1e-9, atol=0)


# ---------------------------------------------------------------- completeness


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_nan_after_warmup_and_float64_columns(name: str) -> None:
    builder = CASES[name].builder()
    features = _features(name)
    names = builder.feature_names
    assert list(features.columns) == ["timestamp", *names]
    assert len(names) == len(set(names))
    assert (features[names].dtypes == "float64").all()
    assert features.index.equals(_bars(name).index)
    complete = features[names].iloc[builder.warmup_bars :]
    assert np.isfinite(complete.to_numpy()).all()
    assert builder.required_history == builder.warmup_bars + 1


def test_warmup_is_tight_without_the_seasonal_profile() -> None:
    builder = CASES["4h_no_calendar_no_profile"].builder()
    features = _features("4h_no_calendar_no_profile")[builder.feature_names]
    assert features.iloc[builder.warmup_bars - 1].isna().any()


def test_feature_names_follow_the_params() -> None:
    names = CASES["fx_1h_defaults"].builder().feature_names
    assert names[:6] == ["log_return", "var_cc", "var_parkinson", "var_gk", "var_rs", "log_rv"]
    assert [n for n in names if n.startswith("log_rv_lag_")] == [
        f"log_rv_lag_{k}" for k in range(1, 25)
    ]
    for w in (4, 8, 24, 168):
        for stem in ("log_rv_mean", "log_rv_std", "log_rv_min", "log_rv_max", "ret_std"):
            assert f"{stem}_{w}" in names
    for w in (1, 24, 168):
        assert f"har_rv_{w}" in names
        assert f"log_har_rv_{w}" in names
    calendar = ["hour_sin", "hour_cos", "dow_sin", "dow_cos", "month_sin", "month_cos"]
    assert set(calendar) | {"hour", "dow", "seasonal_log_rv"} <= set(names)
    plain = CASES["4h_no_calendar_no_profile"].builder().feature_names
    assert not set(calendar) & set(plain)
    assert "seasonal_log_rv" not in plain
    # a weekly window also listed in windows appears once
    dup = FeatureBuilder(
        features=FeatureParams(windows=(4, 168)), target=TargetParams(), interval="1h"
    ).feature_names
    assert dup.count("log_rv_mean_168") == 1


# ---------------------------------------------------------------- values


def test_values_of_lags_windows_and_har() -> None:
    case = CASES["fx_1h_defaults"]
    bars = _bars("fx_1h_defaults")
    f = _features("fx_1h_defaults")
    rv = realized_variance(bars, estimator="garman_klass", floor=1e-10).to_numpy()
    log_rv = np.log(rv)
    ret = np.log(bars["close"].to_numpy())
    ret = np.concatenate([[np.nan], np.diff(ret)])
    for t in (200, 511, len(bars) - 1):
        assert f["log_rv"].iloc[t] == pytest.approx(log_rv[t], rel=1e-12)
        assert f["log_return"].iloc[t] == pytest.approx(ret[t], rel=1e-12)
        for k in (1, 7, case.features.lags):
            assert f[f"log_rv_lag_{k}"].iloc[t] == log_rv[t - k]
        window = log_rv[t - 23 : t + 1]
        assert f["log_rv_mean_24"].iloc[t] == pytest.approx(window.mean(), rel=1e-9)
        assert f["log_rv_std_24"].iloc[t] == pytest.approx(window.std(ddof=1), rel=1e-9)
        assert f["log_rv_min_24"].iloc[t] == window.min()
        assert f["log_rv_max_168"].iloc[t] == log_rv[t - 167 : t + 1].max()
        assert f["ret_std_8"].iloc[t] == pytest.approx(ret[t - 7 : t + 1].std(ddof=1), rel=1e-9)
        assert f["har_rv_1"].iloc[t] == pytest.approx(rv[t], rel=1e-12)
        har = rv[t - 167 : t + 1].mean()
        assert f["har_rv_168"].iloc[t] == pytest.approx(har, rel=1e-9)
        assert f["log_har_rv_168"].iloc[t] == pytest.approx(math.log(har), rel=1e-9)


def test_calendar_features_of_a_known_timestamp() -> None:
    bars = random_walk_bars(8, interval="15min", start="2024-03-15T13:00:00Z")
    builder = FeatureBuilder(
        features=FeatureParams(lags=1, windows=(2,), weekly_window=4, har_windows=(1,)),
        target=TargetParams(),
        interval="15min",
    )
    row = builder.transform(bars).iloc[2]  # Friday 2024-03-15 13:30 UTC
    assert row["hour"] == 13.0
    assert row["dow"] == 4.0
    assert row["hour_sin"] == pytest.approx(math.sin(2 * math.pi * 13.5 / 24))
    assert row["hour_cos"] == pytest.approx(math.cos(2 * math.pi * 13.5 / 24))
    assert row["dow_sin"] == pytest.approx(math.sin(2 * math.pi * 4 / 7))
    assert row["month_cos"] == pytest.approx(math.cos(2 * math.pi * 2 / 12))


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("fx_1h_defaults", "hour"),
        ("1h_missing_bars", "hour"),
        ("4h_rogers_satchell", "hour"),
        ("daily", "dow"),
    ],
)
def test_seasonal_profile_is_the_mean_of_earlier_same_slot_bars(name: str, key: str) -> None:
    builder = CASES[name].builder()
    bars = _bars(name)
    f = _features(name)
    slot = f[key].to_numpy()
    log_rv = f["log_rv"].to_numpy()
    lookback = builder.seasonal_lookback
    for t in range(1, len(bars), 37):
        earlier = [s for s in range(max(0, t - lookback), t) if slot[s] == slot[t]]
        used = earlier[-SEASONAL_OBSERVATIONS:]
        value = f["seasonal_log_rv"].iloc[t]
        if used:
            assert value == pytest.approx(np.mean(log_rv[used]), rel=1e-12)
        else:
            assert np.isnan(value)


def test_daily_bars_keep_constant_hour_features() -> None:
    f = _features("daily")
    assert f["hour"].nunique() == 1
    assert f["dow"].nunique() == 7


# ---------------------------------------------------------------- dataset and errors


def test_dataset_has_one_row_per_bar_and_the_documented_columns() -> None:
    case = CASES["15min_close_to_close_h3"]
    bars = _bars("15min_close_to_close_h3")
    data = build_dataset(bars, features=case.features, target=case.target, interval=case.interval)
    builder = case.builder()
    assert len(data) == len(bars)
    assert list(data.columns) == ["timestamp", *builder.feature_names, "rv", "target"]
    assert not data.attrs  # metadata travels in DatasetSpec, not in attrs
    pd.testing.assert_series_equal(data["timestamp"], bars["timestamp"], check_names=False)
    assert str(data["timestamp"].dtype) == "datetime64[ns, UTC]"
    rv = realized_variance(bars, estimator="close_to_close", floor=1e-10).to_numpy()
    np.testing.assert_array_equal(data["rv"].to_numpy(), rv)
    assert data["target"].iloc[-3:].isna().all()
    assert data["target"].iloc[1:-3].notna().all()
    assert data["target"].iloc[10] == pytest.approx(rv[11:14].sum(), rel=1e-12)
    assert data[builder.feature_names].iloc[0].isna().any()  # warm-up rows stay


def test_inputs_are_not_mutated() -> None:
    case = CASES["fx_1h_defaults"]
    bars = _bars("fx_1h_defaults").copy()
    bars.index = pd.RangeIndex(5, 5 + len(bars))
    before = bars.copy(deep=True)
    builder = case.builder()
    builder.transform(bars)
    builder.transform_last(bars)
    build_dataset(bars, features=case.features, target=case.target, interval=case.interval)
    pd.testing.assert_frame_equal(bars, before)


def test_bad_windows_and_bad_bars_raise_clear_errors() -> None:
    with pytest.raises(ConfigError, match="shorter than 2 bars"):
        FeatureBuilder(features=FeatureParams(windows=(1, 4)), target=TargetParams(), interval="1h")
    with pytest.raises(ConfigError, match="interval"):
        FeatureBuilder(features=FeatureParams(), target=TargetParams(), interval="hourly")
    builder = CASES["fx_1h_defaults"].builder()
    shuffled = _bars("fx_1h_defaults").iloc[::-1]
    with pytest.raises(DataQualityError) as info:
        builder.transform(shuffled)
    assert info.value.failed_checks == ["monotonic_timestamps"]
    with pytest.raises(DataQualityError, match="timestamp"):
        builder.transform_last(_bars("fx_1h_defaults").drop(columns=["timestamp"]))
