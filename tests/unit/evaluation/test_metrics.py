"""Known values of the forecast metrics and behaviour of the Diebold-Mariano test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ModelError
from volcast.evaluation.metrics import (
    compute_metrics,
    diebold_mariano,
    directional_accuracy,
    mae_vol,
    mape,
    qlike,
    qlike_losses,
    r2_logvar,
    rmse_vol,
    skill,
)


def test_qlike_is_zero_for_a_perfect_forecast() -> None:
    y = np.array([1e-6, 4e-6, 2.5e-7])
    assert qlike(y, y) == pytest.approx(0.0, abs=1e-15)


def test_qlike_matches_hand_computed_values() -> None:
    y = np.array([2.0, 1.0])
    f = np.array([1.0, 2.0])
    # y/f = 2: 2 - ln 2 - 1; y/f = 0.5: 0.5 - ln 0.5 - 1
    expected = ((1.0 - math.log(2.0)) + (-0.5 + math.log(2.0))) / 2.0
    assert qlike(y, f) == pytest.approx(expected)
    assert qlike_losses(y, f) == pytest.approx([1.0 - math.log(2.0), math.log(2.0) - 0.5])


def test_qlike_penalises_under_forecasting_more_than_over() -> None:
    y = np.array([1.0])
    assert qlike(y, np.array([0.5])) > qlike(y, np.array([2.0]))


def test_volatility_errors_match_hand_computed_values() -> None:
    y = np.array([4.0, 9.0])  # vol 2, 3
    f = np.array([1.0, 16.0])  # vol 1, 4
    assert rmse_vol(y, f) == pytest.approx(1.0)
    assert mae_vol(y, f) == pytest.approx(1.0)
    assert mape(y, f) == pytest.approx((1.0 / 2.0 + 1.0 / 3.0) / 2.0)


def test_r2_logvar_is_one_for_perfect_and_negative_for_a_constant_wrong_forecast() -> None:
    y = np.exp(np.array([-10.0, -12.0, -11.0, -9.0]))
    assert r2_logvar(y, y) == pytest.approx(1.0)
    assert r2_logvar(y, np.full(4, math.exp(-5.0))) < 0.0


def test_directional_accuracy_counts_matching_moves() -> None:
    current = np.array([1.0, 1.0, 1.0, 1.0])
    y = np.array([2.0, 0.5, 2.0, 0.5])
    f = np.array([1.5, 0.8, 0.9, 1.2])  # up ok, down ok, down wrong, up wrong
    assert directional_accuracy(y, f, current) == pytest.approx(0.5)


def test_skill_score() -> None:
    assert skill(0.5, 1.0) == pytest.approx(0.5)
    assert skill(1.5, 1.0) == pytest.approx(-0.5)


def test_metrics_reject_non_positive_variances() -> None:
    with pytest.raises(ModelError, match="strictly positive"):
        qlike(np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    with pytest.raises(ModelError, match="shape"):
        qlike(np.array([1.0]), np.array([1.0, 2.0]))


def test_diebold_mariano_detects_a_clearly_better_forecast() -> None:
    rng = np.random.default_rng(0)
    sigma2 = np.exp(rng.normal(0.0, 0.5, 2000))
    y = sigma2 * rng.chisquare(1, 2000)
    good = qlike_losses(y, sigma2)
    bad = qlike_losses(y, sigma2 * np.exp(rng.normal(0.0, 0.8, 2000)))
    stat, p_value = diebold_mariano(good, bad)
    assert stat < 0.0
    assert p_value < 0.01
    stat_rev, p_rev = diebold_mariano(bad, good)
    assert stat_rev == pytest.approx(-stat)
    assert p_rev == pytest.approx(p_value)


def test_diebold_mariano_finds_no_difference_between_identical_or_exchangeable_losses() -> None:
    rng = np.random.default_rng(1)
    losses = rng.exponential(size=500)
    assert diebold_mariano(losses, losses.copy()) == (0.0, 1.0)
    other = rng.exponential(size=500)
    _, p_value = diebold_mariano(losses, other)
    assert p_value > 0.01


def test_compute_metrics_reports_every_metric() -> None:
    frame = pd.DataFrame(
        {
            "forecast_variance": [1.4, 2.0, 3.0],
            "realized_variance": [1.5, 2.5, 2.0],
            "current_variance": [1.2, 1.2, 3.5],
        }
    )
    metrics = compute_metrics(frame)
    assert metrics["qlike"] == pytest.approx(
        qlike(frame["realized_variance"], frame["forecast_variance"])
    )
    assert metrics["directional_accuracy"] == pytest.approx(1.0)
    assert metrics["n_forecasts"] == 3
    assert set(metrics) >= {"rmse_vol", "mae_vol", "r2_logvar", "mape"}
    without_current = compute_metrics(frame.drop(columns="current_variance"))
    assert math.isnan(without_current["directional_accuracy"])
