"""The pure promotion rule."""

from __future__ import annotations

import math

import pytest

from volcast.evaluation.promotion import decide


def test_first_model_is_crowned() -> None:
    promoted, reason = decide(
        challenger_qlike=0.5, champion_qlike=None, best_baseline_qlike=0.6, margin=0.0
    )
    assert promoted
    assert "no champion" in reason


def test_better_challenger_wins() -> None:
    promoted, _ = decide(
        challenger_qlike=0.4, champion_qlike=0.5, best_baseline_qlike=0.6, margin=0.0
    )
    assert promoted


@pytest.mark.parametrize("challenger", [0.5, 0.55])
def test_equal_or_worse_challenger_loses(challenger: float) -> None:
    promoted, reason = decide(
        challenger_qlike=challenger, champion_qlike=0.5, best_baseline_qlike=0.6, margin=0.0
    )
    assert not promoted
    assert "does not beat champion" in reason


@pytest.mark.parametrize(("margin", "expected"), [(0.005, True), (0.01, False), (0.02, False)])
def test_margin_is_relative_to_the_champion(margin: float, expected: bool) -> None:
    # 1% better than the champion.
    promoted, _ = decide(
        challenger_qlike=0.495, champion_qlike=0.5, best_baseline_qlike=None, margin=margin
    )
    assert promoted is expected


@pytest.mark.parametrize("champion", [None, 0.9])
def test_challenger_worse_than_best_baseline_is_rejected(champion: float | None) -> None:
    promoted, reason = decide(
        challenger_qlike=0.7,
        champion_qlike=champion,
        best_baseline_qlike=0.6,
        margin=0.0,
        best_baseline_name="har",
    )
    assert not promoted
    assert "har" in reason


def test_non_finite_challenger_is_rejected() -> None:
    promoted, _ = decide(
        challenger_qlike=math.nan, champion_qlike=None, best_baseline_qlike=None, margin=0.0
    )
    assert not promoted


def test_a_degrading_champion_loses_its_incumbency_to_a_tie() -> None:
    # a refit of the same specification on newer bars ties on the window: it replaces the
    # champion the monitor found decaying, and would not replace a healthy one
    promoted, reason = decide(
        challenger_qlike=0.5, champion_qlike=0.5, best_baseline_qlike=0.6, margin=0.0,
        champion_degraded=True,
    )  # fmt: skip
    assert promoted
    assert "degrading" in reason
    healthy, _ = decide(
        challenger_qlike=0.5, champion_qlike=0.5, best_baseline_qlike=0.6, margin=0.0
    )
    assert not healthy
    worse, reason = decide(
        challenger_qlike=0.53, champion_qlike=0.5, best_baseline_qlike=0.6, margin=0.05,
        champion_degraded=True,
    )  # fmt: skip
    assert not worse
    assert "beyond the margin" in reason
    # the baseline floor still holds
    below_floor, _ = decide(
        challenger_qlike=0.5, champion_qlike=0.7, best_baseline_qlike=0.45, margin=0.0,
        champion_degraded=True,
    )  # fmt: skip
    assert not below_floor
