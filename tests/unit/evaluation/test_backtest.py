"""Walk-forward backtest: no look-ahead, purge gap, identical timestamps, honest selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.models.synthetic import make_dataset, simulate_bars
from volcast.config import FeatureParams, TargetParams, TrainParams
from volcast.errors import ModelError
from volcast.evaluation import fit_final, labelled_rows, walk_forward
from volcast.evaluation.backtest import shared_members
from volcast.features import build_dataset
from volcast.models import BASELINES, CANDIDATES, make_model

FAST = TrainParams(
    min_train_bars=300,
    refit_every=250,
    lightgbm={**TrainParams().lightgbm, "n_estimators": 40, "n_jobs": 1},
)
ALL = tuple(CANDIDATES)


FIRST_FLOOR = TargetParams(floor_bars=1000)
"""The data-driven floor from the first bars only: by default it is estimated on all bars,
the one full-history scalar of a backtest, which a change to later bars would move."""


def _run(dataset: pd.DataFrame, *, horizon: int = 1, params: TrainParams = FAST):  # type: ignore[no-untyped-def]
    return walk_forward(dataset, candidates=ALL, train=params, horizon=horizon, interval="1h")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return simulate_bars(1700, seed=5)


@pytest.fixture(scope="module")
def dataset(bars: pd.DataFrame) -> pd.DataFrame:
    return build_dataset(bars, features=FeatureParams(), target=FIRST_FLOOR, interval="1h")


@pytest.fixture(scope="module")
def result(dataset: pd.DataFrame):  # type: ignore[no-untyped-def]
    return _run(dataset)


def test_every_candidate_is_scored_on_identical_timestamps(result) -> None:  # type: ignore[no-untyped-def]
    preds = result.predictions
    assert list(preds.columns[:4]) == [
        "timestamp",
        "forecast_variance",
        "realized_variance",
        "model",
    ]
    assert set(preds["model"]) == set(ALL)
    stamps = {name: tuple(g["timestamp"]) for name, g in preds.groupby("model")}
    reference = stamps["persistence"]
    assert len(reference) > 500
    assert all(s == reference for s in stamps.values())
    assert pd.Series(reference).is_monotonic_increasing
    assert np.all(preds["forecast_variance"] > 0.0)


def test_realized_variance_is_the_next_bars_rv(result, dataset: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    frame = labelled_rows(dataset)
    by_time = frame.set_index("timestamp")
    one = result.predictions[result.predictions["model"] == "persistence"]
    nxt = dataset.set_index("timestamp")["rv"].shift(-1)
    np.testing.assert_allclose(one["realized_variance"], nxt.loc[one["timestamp"]].to_numpy())
    # persistence forecasts the current bar's rv
    np.testing.assert_allclose(one["forecast_variance"], by_time.loc[one["timestamp"], "rv"])


def test_purge_gap_and_expanding_window(result, dataset: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    frame = labelled_rows(dataset)
    position = pd.Series(np.arange(len(frame)), index=frame["timestamp"])
    folds = result.folds
    assert folds["n_train"].iloc[0] == FAST.min_train_bars
    assert folds["n_train"].is_monotonic_increasing
    assert (folds["train_start"] == frame["timestamp"].iloc[0]).all()
    gap = position.loc[folds["test_start"]].to_numpy() - position.loc[folds["train_end"]].to_numpy()
    assert (gap == 2).all()  # last training row b-2: its target (bar b-1) closed before bar b
    assert np.diff(position.loc[folds["test_start"]].to_numpy()).tolist() == [FAST.refit_every] * (
        len(folds) - 1
    )


def test_purge_gap_grows_with_the_horizon(bars: pd.DataFrame) -> None:
    dataset = build_dataset(
        bars, features=FeatureParams(), target=TargetParams(horizon=3), interval="1h"
    )
    out = walk_forward(
        dataset, candidates=("persistence", "har"), train=FAST, horizon=3, interval="1h"
    )
    frame = labelled_rows(dataset)
    position = pd.Series(np.arange(len(frame)), index=frame["timestamp"])
    gap = (
        position.loc[out.folds["test_start"]].to_numpy()
        - position.loc[out.folds["train_end"]].to_numpy()
    )
    assert (gap == 4).all()
    assert out.folds["n_train"].iloc[0] == FAST.min_train_bars


def test_no_look_ahead_when_later_bars_change(bars: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    stamps = result.predictions["timestamp"].drop_duplicates().sort_values().to_numpy()
    cut_time = stamps[len(stamps) // 2 + 17]  # inside a refit block
    later = bars["timestamp"] > cut_time
    shocked = bars.copy()
    rng = np.random.default_rng(0)
    factor = np.exp(rng.normal(0.0, 0.5, int(later.sum())))
    mid = shocked.loc[later, "open"].to_numpy()
    for col in ("high", "low", "close"):
        shocked.loc[later, col] = mid * (shocked.loc[later, col].to_numpy() / mid) ** factor
    changed = build_dataset(shocked, features=FeatureParams(), target=FIRST_FLOOR, interval="1h")
    other = _run(changed)

    def upto(preds: pd.DataFrame) -> pd.DataFrame:
        keep = preds[preds["timestamp"] <= cut_time]
        return keep[["timestamp", "model", "forecast_variance"]].reset_index(drop=True)

    pd.testing.assert_frame_equal(upto(other.predictions), upto(result.predictions))
    after = other.predictions["timestamp"] > cut_time
    assert not np.allclose(
        other.predictions.loc[after, "forecast_variance"],
        result.predictions.loc[after, "forecast_variance"],
    )


def test_same_data_params_and_seed_give_identical_results(dataset: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    # single-threaded this time: fitting LightGBM folds ahead in threads changes nothing
    again = walk_forward(dataset, candidates=ALL, train=FAST, horizon=1, interval="1h", n_jobs=1)
    pd.testing.assert_frame_equal(again.predictions, result.predictions)
    cols = [c for c in result.metrics.columns if c != "seconds"]
    pd.testing.assert_frame_equal(again.metrics[cols], result.metrics[cols])
    assert again.selected == result.selected


def test_selected_model_is_no_worse_than_any_baseline(result) -> None:  # type: ignore[no-untyped-def]
    metrics = result.metrics
    assert set(metrics.index) == set(ALL)
    chosen = metrics.loc[result.selected, "qlike"]
    assert chosen == metrics["qlike"].min()
    for name in BASELINES:
        assert chosen <= metrics.loc[name, "qlike"]
    assert result.best_baseline == metrics.loc[list(BASELINES), "qlike"].idxmin()
    assert metrics.loc["persistence", "skill_vs_persistence"] == pytest.approx(0.0)
    assert np.isnan(metrics.loc[result.best_baseline, "dm_pvalue_vs_best_baseline"])
    others = metrics.drop(index=result.best_baseline)
    assert others["dm_pvalue_vs_best_baseline"].between(0.0, 1.0).all()


def test_max_test_bars_caps_the_scored_window(dataset: pd.DataFrame) -> None:
    capped = TrainParams(min_train_bars=300, refit_every=100, max_test_bars=120)
    out = walk_forward(
        dataset, candidates=("persistence", "ewma"), train=capped, horizon=1, interval="1h"
    )
    assert (out.predictions.groupby("model").size() == 120).all()


def test_progress_reports_every_fold(dataset: pd.DataFrame) -> None:
    calls: list[tuple[str, int, int]] = []
    out = walk_forward(
        dataset,
        candidates=("persistence",),
        train=FAST,
        horizon=1,
        interval="1h",
        progress=lambda name, i, n: calls.append((name, i, n)),
    )
    n = len(out.folds)
    assert calls == [("persistence", i, n) for i in range(1, n + 1)]


def test_too_little_history_is_a_model_error(dataset: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="no out-of-sample bar"):
        walk_forward(
            dataset.iloc[:400],
            candidates=("persistence",),
            train=FAST,
            horizon=1,
            interval="1h",
        )


def test_fit_final_uses_every_labelled_row(dataset: pd.DataFrame) -> None:
    model = fit_final(dataset, "har", train=FAST, horizon=1, interval="1h")
    frame = labelled_rows(dataset)
    forecast = model.predict(frame)
    assert forecast.shape == (len(frame),)
    assert np.all(forecast > 0.0)


@pytest.mark.slow
def test_learned_models_beat_persistence_on_a_garch_series() -> None:
    dataset = make_dataset(5000, seed=21)
    params = TrainParams(
        min_train_bars=1500, refit_every=1000, lightgbm={**TrainParams().lightgbm, "n_jobs": 1}
    )
    out = walk_forward(dataset, candidates=ALL, train=params, horizon=1, interval="1h")
    qlikes = out.metrics["qlike"]
    assert qlikes["har"] < qlikes["persistence"]
    assert qlikes["lightgbm"] < qlikes["persistence"]
    assert qlikes["combination"] < qlikes["ewma"]
    assert out.metrics.loc[out.selected, "skill_vs_persistence"] > 0.2


def test_combination_sharing_its_members_fits_forecasts_as_if_alone(
    dataset: pd.DataFrame,
    result,  # type: ignore[no-untyped-def]
) -> None:
    alone = walk_forward(
        dataset, candidates=("combination",), train=FAST, horizon=1, interval="1h", n_jobs=1
    )
    shared = result.predictions[result.predictions["model"] == "combination"]
    assert len(shared) == len(alone.predictions) > 500
    np.testing.assert_array_equal(
        shared["timestamp"].to_numpy(), alone.predictions["timestamp"].to_numpy()
    )
    np.testing.assert_array_equal(
        shared["forecast_variance"].to_numpy(), alone.predictions["forecast_variance"].to_numpy()
    )


def test_shared_members_needs_every_member_with_the_same_parameters() -> None:
    def models(*names: str, params: TrainParams = FAST) -> dict[str, object]:
        return {n: make_model(n, params=params, interval="1h") for n in names}

    assert shared_members(models(*ALL)) == {  # type: ignore[arg-type]
        "combination": ["ewma", "garch", "har", "har_weekly", "lightgbm_har"]
    }
    assert shared_members(models("ewma", "garch", "har", "combination")) == {}  # type: ignore[arg-type]
    other = models(*ALL)
    other["lightgbm_har"] = make_model(
        "lightgbm_har", params=TrainParams(lightgbm={"n_estimators": 7}), interval="1h"
    )
    assert shared_members(other) == {}  # type: ignore[arg-type]
