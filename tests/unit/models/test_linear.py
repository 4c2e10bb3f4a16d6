"""least_squares against scikit-learn's LinearRegression (SVD least squares, min-norm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from volcast.models.har import HarModel
from volcast.models.linear import least_squares, least_squares_one_hot, one_hot


def _reference(design: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    ols = LinearRegression().fit(design, target)
    return float(ols.intercept_), ols.coef_


def _calendar_design(rng: np.random.Generator, n: int, hours: int) -> np.ndarray:
    """Three log HAR-like columns around -10 plus one-hot hours (the first dropped)."""
    har = rng.normal(-10.0, 1.0, size=(n, 3)).cumsum(axis=0) / np.sqrt(np.arange(1, n + 1))[:, None]
    hour = np.arange(n) % hours
    dummies = np.eye(hours)[hour][:, 1:]
    return np.hstack([har - 10.0, dummies])


@pytest.mark.parametrize("hours", [1, 24, 168])
def test_full_rank_matches_the_svd_solver(hours: int) -> None:
    rng = np.random.default_rng(hours)
    design = _calendar_design(rng, 5_000, hours)
    target = design @ rng.normal(size=design.shape[1]) + rng.normal(size=len(design))
    intercept, coef = least_squares(design, target)
    ref_intercept, ref_coef = _reference(design, target)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-7, atol=1e-9)
    assert intercept == pytest.approx(ref_intercept, abs=1e-7)


def test_a_dummy_no_row_has_gives_the_min_norm_solution() -> None:
    rng = np.random.default_rng(7)
    design = _calendar_design(rng, 2_000, 24)
    design[:, 10] = 0.0  # an hour absent from the training window
    target = design[:, :3] @ [0.4, 0.3, 0.2] + rng.normal(size=len(design))
    intercept, coef = least_squares(design, target)
    ref_intercept, ref_coef = _reference(design, target)
    assert coef[10] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-7, atol=1e-9)
    assert intercept == pytest.approx(ref_intercept, abs=1e-7)


def test_collinear_columns_fall_back_to_the_svd_solver() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1_000, 2))
    design = np.hstack([base, base[:, :1] * 2.0])  # the third column is twice the first
    target = base @ [1.0, -1.0] + 0.1 * rng.normal(size=1_000)
    intercept, coef = least_squares(design, target)
    ref_intercept, ref_coef = _reference(design, target)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-7)  # the minimum-norm split of 2 x1
    assert coef[2] == pytest.approx(2.0 * coef[0], rel=1e-7)
    assert intercept == pytest.approx(ref_intercept, abs=1e-9)


def test_a_har_pickled_with_a_linear_regression_still_predicts() -> None:
    rng = np.random.default_rng(11)
    n = 600
    rv = pd.Series(np.exp(rng.normal(-9.0, 0.5, size=n)))
    X = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "har_rv_1": rv,
            "har_rv_24": rv.rolling(24, min_periods=1).mean(),
        }
    )
    y = rv.shift(-1).fillna(rv.iloc[-1])
    model = HarModel(interval="1h").fit(X, y)
    now = model.predict(X)
    legacy = HarModel(interval="1h").fit(X, y)
    del legacy.intercept_, legacy.coef_
    legacy.ols_ = LinearRegression().fit(legacy._design(X).to_numpy(), np.log(y.to_numpy()))
    np.testing.assert_allclose(legacy.predict(X), now, rtol=1e-8)
    # refitted, the legacy model serves its new fit, not the pickled regression
    legacy.fit(X.iloc[:300], y.iloc[:300])
    np.testing.assert_allclose(
        legacy.predict(X), HarModel(interval="1h").fit(X.iloc[:300], y.iloc[:300]).predict(X)
    )


def _one_hot_case(
    rng: np.random.Generator, n: int, sizes: tuple[int, ...]
) -> tuple[np.ndarray, list[tuple[np.ndarray, int]], np.ndarray]:
    dense = rng.normal(-10.0, 1.0, size=(n, 3))
    blocks = [(rng.integers(0, size, size=n).astype("int32"), size) for size in sizes]
    effects = [rng.normal(size=size) for size in sizes]
    target = dense @ [0.5, 0.3, 0.1] + rng.normal(size=n)
    for (codes, _), effect in zip(blocks, effects, strict=True):
        target = target + effect[codes]
    return dense, blocks, target


@pytest.mark.parametrize("sizes", [(), (168,), (24, 7)])
def test_one_hot_blocks_equal_least_squares_on_the_built_columns(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(sizes))
    dense, blocks, target = _one_hot_case(rng, 6_000, sizes)
    intercept, coef = least_squares_one_hot(dense, blocks, target)
    built = np.hstack([dense, *(one_hot(codes, size) for codes, size in blocks)])
    ref_intercept, ref_coef = _reference(built, target)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-8, atol=1e-10)
    assert intercept == pytest.approx(ref_intercept, abs=1e-8)


def test_one_hot_block_with_an_unseen_category_falls_back_to_the_min_norm_solution() -> None:
    rng = np.random.default_rng(5)
    dense, blocks, target = _one_hot_case(rng, 3_000, (24, 7))
    hours, _ = blocks[0]
    hours[hours == 13] = 12  # hour 13 never seen: its dummy is a zero column
    intercept, coef = least_squares_one_hot(dense, blocks, target)
    built = np.hstack([dense, *(one_hot(codes, size) for codes, size in blocks)])
    ref_intercept, ref_coef = _reference(built, target)
    assert coef[3 + 12] == pytest.approx(0.0, abs=1e-10)  # column of hour 13
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-7, atol=1e-9)
    assert intercept == pytest.approx(ref_intercept, abs=1e-8)
