"""The return and direction targets: labels, features without look-ahead, configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.unit.models.synthetic import simulate_bars
from volcast.config import FeatureParams, TargetParams, load_params
from volcast.errors import ConfigError
from volcast.features import FeatureBuilder, build_dataset
from volcast.features.builder import RETURN_LAGS

FEATURES = FeatureParams()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return simulate_bars(900, seed=11)


@pytest.mark.parametrize("kind", ["return", "direction"])
def test_labels_are_the_next_bars_close_over_this_close(bars: pd.DataFrame, kind: str) -> None:
    data = build_dataset(bars, features=FEATURES, target=TargetParams(kind=kind), interval="1h")
    close = bars["close"].to_numpy()
    expected_return = np.log(close[1:] / close[:-1])
    np.testing.assert_allclose(data["next_return"].to_numpy()[:-1], expected_return)
    assert np.isnan(data["target"].iloc[-1])  # the next bar has not closed
    if kind == "return":
        np.testing.assert_allclose(data["target"].to_numpy()[:-1], expected_return)
    else:
        up = (close[1:] > close[:-1]).astype(float)
        np.testing.assert_array_equal(data["target"].to_numpy()[:-1], up)
    np.testing.assert_array_equal(data["close"].to_numpy(), close)


def test_a_variance_target_keeps_its_features_and_columns(bars: pd.DataFrame) -> None:
    default = FeatureBuilder(features=FEATURES, target=TargetParams(), interval="1h")
    assert TargetParams().kind == "variance"
    assert not any(n.startswith(("log_return_lag_", "ret_mean_")) for n in default.feature_names)
    data = build_dataset(bars, features=FEATURES, target=TargetParams(), interval="1h")
    assert "next_return" not in data.columns
    assert "close" not in data.columns


def test_return_features_read_no_later_bar(bars: pd.DataFrame) -> None:
    """Changing every bar after t changes no feature of bars <= t."""
    target = TargetParams(kind="direction", floor_source="fixed", floor=1e-10)
    builder = FeatureBuilder(features=FEATURES, target=target, interval="1h")
    assert f"log_return_lag_{RETURN_LAGS}" in builder.feature_names
    assert "ret_mean_24" in builder.feature_names
    cut = 700
    changed = bars.copy()
    scale = np.linspace(1.0, 1.5, len(bars) - cut)
    for column in ("open", "high", "low", "close"):
        changed.loc[cut:, column] = changed.loc[cut:, column].to_numpy() * scale
    a = builder.transform(bars)[builder.feature_names].iloc[:cut]
    b = builder.transform(changed)[builder.feature_names].iloc[:cut]
    pd.testing.assert_frame_equal(a, b)
    # serving computes the same last row
    last = builder.transform_last(bars.iloc[:cut])
    np.testing.assert_allclose(last.to_numpy(), a.iloc[-1].to_numpy(), rtol=1e-9)
    lagged = builder.transform(bars)
    np.testing.assert_allclose(
        lagged["log_return_lag_2"].to_numpy()[3:], lagged["log_return"].to_numpy()[1:-2]
    )


def test_an_unknown_kind_is_a_clear_config_error(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("target:\n  kind: price\n")
    with pytest.raises(ConfigError, match=r"target\.kind|kind"):
        load_params(path)
    path.write_text("target:\n  kind: direction\n  horizon: 3\n")
    with pytest.raises(ConfigError, match="next bar only"):
        load_params(path)
    path.write_text("target:\n  kind: return\n")
    assert load_params(path).target.kind == "return"
