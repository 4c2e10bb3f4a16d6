"""Reference statistics for drift detection: JSON-safe, consistent with live binning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.monitoring.reference import ReferenceStats, bin_proportions, reference_statistics


@pytest.fixture
def features() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 1000
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "ret": rng.normal(0.0, 1.0, n),
            "hour": np.arange(n) % 24,
            "flag": np.arange(n) % 2 == 0,
            "const": np.full(n, 3.5),
            "gappy": np.where(np.arange(n) < 100, np.nan, rng.normal(size=n)),
        }
    )


def test_statistics_are_strict_json(features: pd.DataFrame) -> None:
    stats = reference_statistics(features)
    text = json.dumps(stats.to_dict(), allow_nan=False)
    assert json.loads(text) == stats.to_dict()
    assert ReferenceStats.from_dict(json.loads(text)) == stats


def test_non_numeric_columns_are_skipped(features: pd.DataFrame) -> None:
    stats = reference_statistics(features)
    assert stats.skipped == ("timestamp",)
    assert set(stats.features) == {"ret", "hour", "flag", "const", "gappy"}


def test_moments_and_range_match_the_data(features: pd.DataFrame) -> None:
    ret = reference_statistics(features).features["ret"]
    assert ret.mean == pytest.approx(features["ret"].mean())
    assert ret.std == pytest.approx(features["ret"].std())
    assert ret.min == features["ret"].min()
    assert ret.max == features["ret"].max()
    assert ret.count == len(features)


def test_continuous_feature_gets_equal_mass_deciles(features: pd.DataFrame) -> None:
    ret = reference_statistics(features, n_bins=10).features["ret"]
    assert len(ret.bin_edges) == 11
    assert sum(ret.proportions) == pytest.approx(1.0)
    assert ret.proportions == pytest.approx((0.1,) * 10, abs=0.002)


def test_live_binning_of_training_data_reproduces_reference(features: pd.DataFrame) -> None:
    stats = reference_statistics(features).features
    for name in ("ret", "hour", "gappy"):
        assert bin_proportions(features[name], stats[name].bin_edges) == pytest.approx(
            stats[name].proportions
        )


def test_shifted_live_values_land_in_the_outer_bin(features: pd.DataFrame) -> None:
    edges = reference_statistics(features).features["ret"].bin_edges
    shares = bin_proportions(features["ret"] + 100.0, edges)
    assert shares[-1] == pytest.approx(1.0)


def test_constant_feature_has_a_single_bin(features: pd.DataFrame) -> None:
    const = reference_statistics(features).features["const"]
    assert const.proportions == (1.0,)
    assert const.std == 0.0


def test_nulls_are_counted_not_binned(features: pd.DataFrame) -> None:
    gappy = reference_statistics(features).features["gappy"]
    assert gappy.null_ratio == pytest.approx(0.1)
    assert gappy.count == 900
    assert sum(gappy.proportions) == pytest.approx(1.0)


def test_all_null_feature_has_no_bins() -> None:
    stats = reference_statistics(pd.DataFrame({"x": [np.nan, np.nan]})).features["x"]
    assert stats.count == 0
    assert stats.proportions == ()
    assert bin_proportions([1.0, 2.0], stats.bin_edges) == []


def test_input_is_left_unchanged(features: pd.DataFrame) -> None:
    before = features.copy()
    reference_statistics(features)
    pd.testing.assert_frame_equal(features, before)


def test_zero_bins_is_rejected(features: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="n_bins"):
        reference_statistics(features, n_bins=0)
