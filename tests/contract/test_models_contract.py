"""Contract of every model in CANDIDATES: deterministic, inputs untouched, pickles, positive."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from tests.unit.models.synthetic import make_dataset
from volcast.config import TrainParams
from volcast.evaluation.backtest import labelled_rows
from volcast.models import CANDIDATES, VolatilityModel, make_model

PARAMS = TrainParams(lightgbm={**TrainParams().lightgbm, "n_estimators": 40, "n_jobs": 1})


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    frame = labelled_rows(make_dataset(1500, seed=11))
    X = frame.drop(columns=["target"])
    return X.iloc[:1000], frame["target"].iloc[:1000], X


def _fit(name: str, X: pd.DataFrame, y: pd.Series) -> VolatilityModel:
    return make_model(name, params=PARAMS, interval="1h").fit(X, y)


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_model_fulfils_the_contract(
    name: str, split: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    X_train, y_train, X_all = split
    X_before, y_before, all_before = X_train.copy(), y_train.copy(), X_all.copy()

    model = make_model(name, params=PARAMS, interval="1h")
    assert model.name == name
    assert isinstance(model, CANDIDATES[name])
    assert not [k for k in vars(model) if k.endswith("_")], "no learned state before fit"
    assert model.fit(X_train, y_train) is model
    forecast = model.predict(X_all)

    assert forecast.shape == (len(X_all),)
    assert np.all(np.isfinite(forecast))
    assert np.all(forecast > 0.0)
    # inputs unchanged
    pd.testing.assert_frame_equal(X_train, X_before)
    pd.testing.assert_series_equal(y_train, y_before)
    pd.testing.assert_frame_equal(X_all, all_before)
    # deterministic: a second fresh fit gives the identical forecast
    np.testing.assert_array_equal(_fit(name, X_train, y_train).predict(X_all), forecast)
    # pickles to a model that forecasts the same
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_all), forecast)


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_forecast_at_t_ignores_later_rows(
    name: str, split: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    X_train, y_train, X_all = split
    model = _fit(name, X_train, y_train)
    cut = 1200
    changed = X_all.copy()
    numeric = [c for c in changed.columns if c != "timestamp"]
    changed.loc[cut + 1 :, numeric] = changed.loc[cut + 1 :, numeric] * 3.0
    np.testing.assert_array_equal(
        model.predict(changed)[: cut + 1], model.predict(X_all)[: cut + 1]
    )


def test_unknown_candidate_is_a_config_error() -> None:
    from volcast.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown model candidate 'xgb'"):
        make_model("xgb", params=PARAMS, interval="1h")
