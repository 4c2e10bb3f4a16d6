"""Rolling realized losses of the return and direction champions, against scikit-learn."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, mean_squared_error

from volcast.errors import ConfigError
from volcast.monitoring.target_loss import TargetLoss, base_rate, losses


def test_direction_losses_over_the_window_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 50)
    y = (rng.uniform(size=50) < 0.5).astype(float)
    b = np.full(50, 0.5)
    tracker = TargetLoss(kind="direction", window=20)
    for forecast, outcome, baseline in zip(p, y, b, strict=True):
        tracker.observe(forecast=forecast, baseline=baseline, realized=outcome)
    last = slice(-20, None)
    assert tracker.bars == 50
    assert tracker.rolling("model", "brier") == pytest.approx(brier_score_loss(y[last], p[last]))
    assert tracker.rolling("model", "log_loss") == pytest.approx(
        log_loss(y[last], p[last], labels=[0, 1])
    )
    assert tracker.rolling("base_rate", "brier") == pytest.approx(0.25)
    assert tracker.rolling("base_rate", "log_loss") == pytest.approx(np.log(2))
    summary = tracker.summary()
    assert summary["baseline"] == "base_rate"
    assert set(summary["loss"]) == {"log_loss", "brier"}
    assert summary["loss"]["brier"]["model"] == tracker.rolling("model", "brier")


def test_return_squared_error_against_zero() -> None:
    f = np.array([0.01, -0.02, 0.0, 0.005])
    r = np.array([0.02, -0.01, 0.01, -0.005])
    tracker = TargetLoss(kind="return", window=10)
    for forecast, realized in zip(f, r, strict=True):
        tracker.observe(forecast=forecast, baseline=0.0, realized=realized)
    assert tracker.rolling("model", "squared_error") == pytest.approx(mean_squared_error(r, f))
    assert tracker.rolling("zero", "squared_error") == pytest.approx(np.mean(r**2))
    assert tracker.summary()["loss"] == {
        "squared_error": {
            "model": pytest.approx(mean_squared_error(r, f)),
            "zero": pytest.approx(np.mean(r**2)),
        }
    }


def test_a_certain_miss_is_finite_and_an_empty_tracker_reports_none() -> None:
    assert np.isfinite(losses("direction", 1.0, 0.0)["log_loss"])
    tracker = TargetLoss(kind="direction", window=5)
    assert tracker.rolling("model", "brier") is None
    assert tracker.summary()["loss"]["brier"] == {"model": None, "base_rate": None}
    restored = pickle.loads(pickle.dumps(tracker))  # it lives in the pickled stream state
    assert restored == tracker


def test_base_rate_and_bad_arguments() -> None:
    assert base_rate(0, 0) == 0.5
    assert base_rate(3, 4) == 0.75
    with pytest.raises(ConfigError, match="variance"):
        TargetLoss(kind="variance", window=5)
    with pytest.raises(ConfigError, match="window"):
        TargetLoss(kind="return", window=0)
    with pytest.raises(ConfigError, match="price"):
        losses("price", 0.0, 0.0)
