"""Direction and return scores against scikit-learn and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from volcast.errors import ModelError
from volcast.evaluation.target_metrics import (
    calibration_table,
    direction_scores,
    expanding_base_rate,
    r2_oos,
    return_scores,
)


def test_direction_scores_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(0.05, 0.95, 400)
    y = (rng.uniform(size=400) < p).astype(float)
    scores = direction_scores(p, y)
    assert scores["log_loss"] == pytest.approx(log_loss(y, p))
    assert scores["brier"] == pytest.approx(brier_score_loss(y, p))
    assert scores["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert scores["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)))
    assert scores["base_rate"] == pytest.approx(y.mean())
    assert scores["roc_auc"] > 0.6  # the forecasts carry signal by construction


def test_the_murphy_decomposition_is_exact_when_bins_hold_one_forecast() -> None:
    rng = np.random.default_rng(11)
    p = rng.choice([0.05, 0.35, 0.55, 0.85], size=1000)
    y = (rng.uniform(size=1000) < np.clip(p + 0.1, 0, 1)).astype(float)
    s = direction_scores(p, y)
    assert s["reliability"] - s["resolution"] + s["uncertainty"] == pytest.approx(s["brier"])
    assert s["reliability"] > 0.005  # forecasts are 0.1 too low: miscalibrated, and it shows


def test_a_constant_base_rate_forecast_resolves_nothing() -> None:
    y = np.array([1, 0, 1, 1, 0, 1, 0, 1], dtype=float)
    s = direction_scores(np.full(8, y.mean()), y)
    assert s["resolution"] == pytest.approx(0.0)
    assert s["reliability"] == pytest.approx(0.0)
    assert s["brier"] == pytest.approx(s["uncertainty"]) == pytest.approx(0.625 * 0.375)
    assert math.isclose(s["roc_auc"], 0.5)


def test_the_calibration_table_counts_each_bin() -> None:
    table = calibration_table([0.05, 0.08, 0.55, 1.0], [0, 1, 1, 1], bins=10)
    assert table["count"].tolist() == [2, 1, 1]
    assert table["bin_low"].tolist() == pytest.approx([0.0, 0.5, 0.9])
    assert table["observed_frequency"].tolist() == pytest.approx([0.5, 1.0, 1.0])
    assert table["mean_probability"].tolist() == pytest.approx([0.065, 0.55, 1.0])


def test_the_expanding_base_rate_uses_only_earlier_outcomes() -> None:
    rate = expanding_base_rate([1, 0, 1, 1])
    assert rate.tolist() == pytest.approx([0.5, 1.0, 0.5, 2.0 / 3.0])


def test_return_scores_by_hand() -> None:
    f = np.array([0.01, -0.02, 0.0, 0.005])
    r = np.array([0.02, -0.01, 0.01, -0.005])
    s = return_scores(f, r, close=np.array([100.0, 200.0, 50.0, 10.0]))
    assert s["rmse"] == pytest.approx(0.01)
    assert s["mae"] == pytest.approx(0.01)
    assert s["r2_oos"] == pytest.approx(1 - 4e-4 / (4e-4 + 1e-4 + 1e-4 + 0.25e-4))
    assert s["directional_accuracy"] == pytest.approx(2 / 3)  # the zero forecast calls nothing
    actual = np.array([100 * math.exp(0.02), 200 * math.exp(-0.01), 50 * math.exp(0.01),
                       10 * math.exp(-0.005)])  # fmt: skip
    predicted = np.array([100 * math.exp(0.01), 200 * math.exp(-0.02), 50.0, 10 * math.exp(0.005)])
    assert s["mape_close"] == pytest.approx(np.mean(np.abs(actual - predicted) / actual))
    assert s["mae_close"] == pytest.approx(np.mean(np.abs(actual - predicted)))


def test_r2_oos_is_zero_for_the_zero_forecast_and_one_for_a_perfect_one() -> None:
    r = np.array([0.01, -0.03, 0.02])
    assert r2_oos(np.zeros(3), r) == 0.0
    assert r2_oos(r, r) == 1.0
    assert r2_oos(-r, r) == pytest.approx(-3.0)
    assert math.isnan(return_scores(np.zeros(3), r)["directional_accuracy"])


def test_bad_input_is_named() -> None:
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        direction_scores([0.2, 1.2], [0, 1])
    with pytest.raises(ModelError, match="outcome must be 0 or 1"):
        direction_scores([0.2, 0.3], [0, 2])
    with pytest.raises(ModelError, match="differ in shape"):
        direction_scores([0.2, 0.3], [0, 1, 1])
    with pytest.raises(ModelError, match="empty"):
        return_scores([], [])
    with pytest.raises(ModelError, match="non-finite"):
        return_scores([0.1, np.nan], [0.0, 0.1])
    with pytest.raises(ModelError, match="close must be strictly positive"):
        return_scores([0.1], [0.0], close=[0.0])
