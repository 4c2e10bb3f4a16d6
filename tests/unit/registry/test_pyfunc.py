"""The pyfunc wrapper's predict, called directly (the registry round trip is in integration)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.unit.registry.toy import ScaledSquareModel, toy_dataset
from volcast.errors import ConfigError, ModelError
from volcast.registry import OUTPUT_COLUMNS, VolcastPyfunc, experiment_name, model_name
from volcast.schemas import bars_per_year


@pytest.fixture
def wrapper() -> VolcastPyfunc:
    X, y = toy_dataset(200)
    model = ScaledSquareModel().fit(X, y)
    config = {"feature_names": list(X.columns), "interval": "1h", "symbol": "EUR/USD"}
    return VolcastPyfunc(model, feature_config=config, reference_stats={})


def test_predict_reports_variance_volatility_and_annualised(wrapper: VolcastPyfunc) -> None:
    X, _ = toy_dataset(20, seed=5)
    out = wrapper.predict(None, X)
    expected = wrapper.model.predict(X)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    np.testing.assert_allclose(out["variance"], expected)
    np.testing.assert_allclose(out["volatility"], np.sqrt(expected))
    np.testing.assert_allclose(
        out["annualized_volatility"], np.sqrt(expected * bars_per_year("1h"))
    )


def test_predict_selects_feature_columns_in_order(wrapper: VolcastPyfunc) -> None:
    X, _ = toy_dataset(10, seed=6)
    shuffled = X[["vol_proxy_2", "vol_proxy_1"]].assign(extra=1e6)
    pd.testing.assert_frame_equal(wrapper.predict(None, shuffled), wrapper.predict(None, X))


def test_missing_feature_is_a_clear_error(wrapper: VolcastPyfunc) -> None:
    X, _ = toy_dataset(5)
    with pytest.raises(ModelError, match="vol_proxy_2"):
        wrapper.predict(None, X.drop(columns="vol_proxy_2"))


def test_negative_forecasts_are_clipped_to_zero(wrapper: VolcastPyfunc) -> None:
    wrapper.model.scale = -1.0
    X, _ = toy_dataset(5)
    out = wrapper.predict(None, X)
    assert (out["variance"] == 0.0).all()
    assert not out.isna().any().any()


def test_wrong_number_of_forecasts_is_a_model_error() -> None:
    class Broken:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.ones(len(X) + 1)

    config = {"feature_names": ["a"], "interval": "1d", "symbol": "AAPL"}
    wrapper = VolcastPyfunc(Broken(), feature_config=config, reference_stats={})
    with pytest.raises(ModelError, match="2 forecasts for 1 rows"):
        wrapper.predict(None, pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(
    ("symbol", "interval", "expected"),
    [("EUR/USD", "1h", "volcast-eurusd-1h"), ("BTC-USD", "15min", "volcast-btcusd-15min")],
)
def test_model_and_experiment_names(symbol: str, interval: str, expected: str) -> None:
    assert model_name(symbol, interval) == expected
    assert experiment_name(symbol, interval) == expected


def test_symbol_without_letters_is_rejected() -> None:
    with pytest.raises(ConfigError):
        model_name("//", "1h")


def test_annualisation_uses_the_interval() -> None:
    config = {"feature_names": ["a"], "interval": "1d", "symbol": "AAPL"}

    class One:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.full(len(X), 1e-4)

    out = VolcastPyfunc(One(), feature_config=config, reference_stats={}).predict(
        None, pd.DataFrame({"a": [0.0]})
    )
    assert out["annualized_volatility"].iloc[0] == pytest.approx(0.01 * math.sqrt(252))


def test_annualisation_divides_a_multi_bar_variance_by_the_horizon() -> None:
    config = {
        "feature_names": ["a"],
        "interval": "1d",
        "symbol": "AAPL",
        "target": {"horizon": 4},
    }

    class Four:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.full(len(X), 4e-4)  # variance summed over 4 days

    out = VolcastPyfunc(Four(), feature_config=config, reference_stats={}).predict(
        None, pd.DataFrame({"a": [0.0]})
    )
    assert out["volatility"].iloc[0] == pytest.approx(0.02)
    assert out["annualized_volatility"].iloc[0] == pytest.approx(0.01 * math.sqrt(252))
