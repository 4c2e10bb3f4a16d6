"""The realized-loss tracker: QLIKE per bar from evaluation.metrics, counted once, rolling."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from volcast.evaluation.metrics import qlike
from volcast.monitoring import LossTracker

BARS = pd.date_range("2024-01-01", periods=10, freq="1h", tz="UTC")


def test_a_bar_is_scored_with_the_evaluation_qlike_and_counted_once() -> None:
    tracker = LossTracker(window=3, memory=5)
    first = tracker.score(BARS[0], 2e-6, 1e-6, 1.5e-6)
    assert first.loss == pytest.approx(2.0 - math.log(2.0) - 1.0)
    assert first.loss == qlike([2e-6], [1e-6])
    assert first.rolling == first.loss
    assert tracker.rolling("har") == pytest.approx(qlike([2e-6], [1.5e-6]))
    again = tracker.score(BARS[0], 9e-6, 1e-6, None)
    assert again.duplicate  # the earlier outcome, not recounted
    assert again.realized == 2e-6
    assert len(tracker.losses["model"]) == 1


def test_the_rolling_qlike_is_the_mean_over_the_window() -> None:
    tracker = LossTracker(window=2, memory=5)
    losses = [tracker.score(bar, 1e-6 * (i + 2), 1e-6, None).loss for i, bar in enumerate(BARS[:3])]
    assert tracker.rolling("model") == pytest.approx((losses[1] + losses[2]) / 2)
    assert tracker.rolling("har") is None


def test_an_implausible_ratio_is_answered_but_not_counted() -> None:
    tracker = LossTracker(window=3, memory=5)
    absurd = tracker.score(BARS[0], 1e-300, 1e-6, None)
    assert not absurd.counted
    assert math.isfinite(absurd.loss)
    assert absurd.rolling is None
    assert tracker.seen(BARS[0]) is None  # the bar may still be counted
    assert tracker.score(BARS[0], 1e-6, 1e-6, None).counted


def test_remembered_forecasts_are_bounded_oldest_first() -> None:
    tracker = LossTracker(window=2, memory=3)
    for i, bar in enumerate(BARS[:5]):
        tracker.remember(bar, float(i), None)
    assert tracker.forecast_at(BARS[0]) is None
    assert tracker.forecast_at(BARS[4]) == (4.0, None)
    assert len(tracker.forecasts) == 3
