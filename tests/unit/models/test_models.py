"""Behaviour of each forecaster beyond the shared contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.models.synthetic import make_dataset
from volcast.config import TrainParams
from volcast.errors import ModelError
from volcast.evaluation.backtest import labelled_rows
from volcast.models import (
    CombinationModel,
    EwmaModel,
    GarchModel,
    HarModel,
    LightGbmModel,
    PersistenceModel,
    make_model,
    with_features,
)
from volcast.models.base import feature_columns


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return labelled_rows(make_dataset(3000, seed=3))


def _xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=["target"]), frame["target"]


def test_ewma_follows_the_riskmetrics_recursion() -> None:
    X = pd.DataFrame({"rv": [1.0, 4.0, 2.0, 8.0]})
    y = pd.Series([4.0, 2.0, 8.0, 1.0])
    model = EwmaModel(lam=0.5).fit(X, y)
    level = model.init_variance_  # mean rv = 3.75
    expected = []
    for rv in X["rv"]:
        level = 0.5 * level + 0.5 * rv
        expected.append(level)
    np.testing.assert_allclose(model.predict(X), expected)


def test_persistence_scales_with_the_horizon() -> None:
    X = pd.DataFrame({"rv": [1.0, 2.0]})
    model = PersistenceModel(horizon=3).fit(X, pd.Series([2.0, 1.0]))
    np.testing.assert_allclose(model.predict(X), [3.0, 6.0])


def test_garch_recovers_persistent_dynamics_and_calibrates_to_the_target(
    frame: pd.DataFrame,
) -> None:
    X, y = _xy(frame)
    model = GarchModel().fit(X, y)
    coef = model.coefficients()
    # simulated with alpha=0.08, beta=0.90 (times an intraday profile GARCH does not model)
    assert 0.02 < coef["alpha"] < 0.3
    assert 0.6 < coef["alpha"] + coef["beta"] < 1.0
    # the calibration makes the in-sample QLIKE-optimal scale exactly one
    assert np.mean(y.to_numpy() / model.predict(X)) == pytest.approx(1.0, rel=1e-6)


def test_garch_warm_start_refit_reaches_the_same_optimum(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    warm = GarchModel(warm_start=True).fit(X.iloc[:2000], y.iloc[:2000]).fit(X, y)
    cold = GarchModel(warm_start=False).fit(X, y)
    np.testing.assert_allclose(warm.params_, cold.params_, rtol=0.05, atol=1e-3)


def test_har_uses_the_har_components_and_corrects_the_log_bias(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    model = HarModel(interval="1h").fit(X, y)
    assert model.columns_ == ["har_rv_1", "har_rv_24", "har_rv_168"]
    coef = model.coefficients()
    assert {"intercept", "log_har_rv_1", "hour_1", "dow_1"} <= set(coef.index)
    assert coef[["log_har_rv_1", "log_har_rv_24", "log_har_rv_168"]].sum() > 0.5
    forecast = model.predict(X)
    log_fit = np.log(forecast) - 0.5 * model.sigma2_
    assert np.mean(np.log(y.to_numpy()) - log_fit) == pytest.approx(0.0, abs=1e-8)
    assert list(model.feature_importances().index) != []


def test_har_seasonal_dummies_use_the_forecast_bars_hour(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    model = HarModel(interval="1h").fit(X, y)
    design = model._design(X.iloc[:3])
    hours = (X["timestamp"].iloc[:3] + pd.Timedelta(hours=1)).dt.hour.to_numpy()
    for row, hour in enumerate(hours):
        if hour:
            assert design.iloc[row][f"hour_{hour}"] == 1.0


def test_lightgbm_smearing_makes_the_in_sample_scale_one(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    params = {**TrainParams().lightgbm, "n_estimators": 50, "n_jobs": 1}
    model = LightGbmModel(params=params, seed=1).fit(X, y)
    forecast = model.predict(X)
    assert np.mean(y.to_numpy() / forecast) == pytest.approx(1.0, rel=1e-6)
    importances = model.feature_importances()
    assert set(importances.index) == set(feature_columns(frame))
    assert "rv" not in importances.index
    assert importances.iloc[0] > 0.0


def test_lightgbm_seed_changes_the_bagged_fit(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    params = {**TrainParams().lightgbm, "n_estimators": 30, "n_jobs": 1}
    one = LightGbmModel(params=params, seed=1).fit(X, y).predict(X)
    two = LightGbmModel(params=params, seed=2).fit(X, y).predict(X)
    assert not np.allclose(one, two)


def test_combination_weights_favour_the_better_member(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    model = CombinationModel(members=(PersistenceModel(), HarModel(interval="1h"))).fit(X, y)
    weights = model.weights_
    assert weights.sum() == pytest.approx(1.0)
    assert (weights >= 0.0).all()
    assert weights["har"] > weights["persistence"]


def test_combination_warm_refit_scores_the_previous_members_out_of_sample(
    frame: pd.DataFrame,
) -> None:
    X, y = _xy(frame)
    model = CombinationModel(members=(EwmaModel(), HarModel(interval="1h")))
    model.fit(X.iloc[:1500], y.iloc[:1500])
    n_val = len(model.validation_y_)
    model.fit(X.iloc[:2000], y.iloc[:2000])
    # the new validation rows are 1501..1999 (after the purge of one row)
    assert len(model.validation_y_) == n_val + 2000 - 1500 - 1
    np.testing.assert_array_equal(model.validation_y_[n_val:], y.iloc[1501:2000].to_numpy())


def test_fit_rejects_unusable_targets(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    bad = y.copy()
    bad.iloc[5] = 0.0
    with pytest.raises(ModelError, match="non-positive or non-finite"):
        make_model("har", params=TrainParams(), interval="1h").fit(X, bad)
    with pytest.raises(ModelError, match="rows"):
        PersistenceModel().fit(X, y.iloc[:-1])


def test_missing_columns_are_named(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    with pytest.raises(ModelError, match="log_return"):
        GarchModel().fit(X.drop(columns=["log_return"]), y)


def test_row_wise_forecasts_do_not_depend_on_the_other_rows(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    har = HarModel(interval="1h").fit(X.iloc[:2000], y.iloc[:2000])
    np.testing.assert_array_equal(har.predict(X.iloc[2003:2101]), har.predict(X)[2003:2101])
    combo = CombinationModel(members=(EwmaModel(), har)).fit(X.iloc[:2000], y.iloc[:2000])
    members = np.column_stack([m.predict(X) for m in combo.members_])
    np.testing.assert_array_equal(combo.combine(members[5:77]), combo.predict(X)[5:77])


def _members() -> tuple[EwmaModel, GarchModel, HarModel]:
    return EwmaModel(), GarchModel(), HarModel(interval="1h")


def test_combination_fit_shared_equals_fitting_its_own_members(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    own = CombinationModel(members=_members())
    shared = CombinationModel(members=_members())
    fitted = list(_members())  # fitted and scored by the caller, as a walk-forward does
    oos = np.full((len(X), len(fitted)), np.nan)
    for start, end in ((1500, 2000), (2000, 2600)):
        train_end = start - 1
        own.fit(X.iloc[:train_end], y.iloc[:train_end])
        for m in fitted:
            m.fit(X.iloc[:train_end], y.iloc[:train_end])
        shared.fit_shared(
            X.iloc[:train_end], y.iloc[:train_end], fitted=fitted, oos_forecasts=oos[:train_end]
        )
        np.testing.assert_array_equal(shared.weights_, own.weights_)
        np.testing.assert_array_equal(shared.validation_y_, own.validation_y_)
        np.testing.assert_array_equal(shared.predict(X.iloc[:end]), own.predict(X.iloc[:end]))
        for j, m in enumerate(fitted):
            oos[start:end, j] = m.predict(X.iloc[:end])[start:end]
    assert shared.members_[1] is fitted[1]


def test_combination_fit_shared_rejects_mismatched_members_and_missing_forecasts(
    frame: pd.DataFrame,
) -> None:
    X, y = _xy(frame)
    Xa, ya = X.iloc[:1500], y.iloc[:1500]
    fitted = [m.fit(Xa, ya) for m in _members()]
    combo = CombinationModel(members=_members())
    oos = np.full((1500, 3), np.nan)
    with pytest.raises(ModelError, match="does not match"):
        combo.fit_shared(Xa, ya, fitted=[fitted[0], fitted[1], EwmaModel()], oos_forecasts=oos)
    with pytest.raises(ModelError, match="2 fitted member"):
        combo.fit_shared(Xa, ya, fitted=fitted[:2], oos_forecasts=oos)
    with pytest.raises(ModelError, match="shape"):
        combo.fit_shared(Xa, ya, fitted=fitted, oos_forecasts=oos[:, :2])
    combo.fit_shared(Xa, ya, fitted=fitted, oos_forecasts=oos)
    longer = 2000
    with pytest.raises(ModelError, match="out-of-sample forecasts for rows 1501"):
        combo.fit_shared(
            X.iloc[:longer],
            y.iloc[:longer],
            fitted=fitted,
            oos_forecasts=np.full((longer, 3), np.nan),
        )


def test_make_model_binds_the_feature_set_and_with_features_rebinds_it(
    frame: pd.DataFrame,
) -> None:
    names = feature_columns(frame)[:10]
    combo = make_model("combination", params=TrainParams(), interval="1h", features=names)
    assert isinstance(combo, CombinationModel)
    (gbm,) = [m for m in combo.members if isinstance(m, LightGbmModel)]
    assert gbm.features == tuple(names)
    rebound = with_features(combo, names[:3])
    assert isinstance(rebound, CombinationModel)
    (bound,) = [m for m in rebound.members if isinstance(m, LightGbmModel)]
    assert bound.features == tuple(names[:3])
    assert gbm.features == tuple(names)  # the original is left as it was
    assert (
        with_features(HarModel(interval="1h"), names).get_params()
        == HarModel(interval="1h").get_params()
    )


SEARCH = ({"num_leaves": 3, "n_estimators": 20}, {"num_leaves": 31, "min_child_samples": 10})


def test_lightgbm_search_picks_by_nested_validation_inside_the_training_rows(
    frame: pd.DataFrame,
) -> None:
    X, y = _xy(frame)
    params = {**TrainParams().lightgbm, "n_estimators": 40}
    n = 2000
    model = LightGbmModel(params=params, search=SEARCH).fit(X.iloc[:n], y.iloc[:n])
    assert model.chosen_params_ in ({}, *SEARCH)
    # the choice is the override with the best QLIKE on the last fifth, fitted before it
    n_val, inner = n // 5, n - n // 5 - 1
    y_val = y.to_numpy()[n - n_val : n]
    losses = []
    for override in ({}, *SEARCH):
        trial = LightGbmModel(params={**params, **override}).fit(X.iloc[:inner], y.iloc[:inner])
        ratio = y_val / trial.predict(X.iloc[n - n_val : n])
        losses.append(float(np.mean(ratio - np.log(ratio) - 1.0)))
    assert model.chosen_params_ == ({}, *SEARCH)[int(np.argmin(losses))]
    final = LightGbmModel(params={**params, **model.chosen_params_}).fit(X.iloc[:n], y.iloc[:n])
    np.testing.assert_array_equal(model.predict(X.iloc[n:]), final.predict(X.iloc[n:]))


def test_lightgbm_search_never_looks_past_its_training_window(frame: pd.DataFrame) -> None:
    """Changing every bar after a training window leaves the chosen parameters unchanged."""
    X, y = _xy(frame)
    params = {**TrainParams().lightgbm, "n_estimators": 40}
    n = 2000
    shocked_X, shocked_y = X.copy(), y.copy()
    rng = np.random.default_rng(1)
    numeric = [c for c in X.columns if c != "timestamp"]
    shocked_X.loc[n:, numeric] = shocked_X.loc[n:, numeric].to_numpy()[::-1] * 3.0
    shocked_y.iloc[n:] = shocked_y.iloc[n:].to_numpy() * np.exp(rng.normal(0, 2, len(y) - n))
    train = TrainParams(
        min_train_bars=1200,
        refit_every=400,
        lightgbm=params,
        lightgbm_search=SEARCH,
        candidates=("lightgbm",),
    )
    chosen = []
    for frame_X, frame_y in ((X, y), (shocked_X, shocked_y)):
        model = make_model("lightgbm", params=train, interval="1h")
        fits = [
            model.fit(frame_X.iloc[:end], frame_y.iloc[:end]).chosen_params_
            for end in (1200, 1600, n)
        ]
        chosen.append(fits)
    assert chosen[0] == chosen[1]
    # a window that does include the changed bars may choose differently, and does fit on them
    moved = make_model("lightgbm", params=train, interval="1h").fit(shocked_X, shocked_y)
    kept = make_model("lightgbm", params=train, interval="1h").fit(X, y)
    assert not np.allclose(moved.predict(X.iloc[:50]), kept.predict(X.iloc[:50]))


def test_same_spec_compares_nested_models_by_parameters_so_combinations_share_fits() -> None:
    from volcast.evaluation.backtest import shared_members
    from volcast.models.base import same_spec

    train = TrainParams()
    a = make_model("lightgbm_har", params=train, interval="1h")
    assert same_spec(a, make_model("lightgbm_har", params=train, interval="1h"))
    assert not same_spec(a, make_model("lightgbm_har", params=train, interval="1d"))
    assert not same_spec(a, make_model("lightgbm", params=train, interval="1h"))
    members = ("har", "lightgbm_har")
    combo = CombinationModel(
        members=tuple(make_model(m, params=train, interval="1h") for m in members)
    )
    models = {m: make_model(m, params=train, interval="1h") for m in members}
    assert shared_members({**models, "combination": combo}) == {"combination": list(members)}
