"""The freshness guard refuses stale, missing and incomplete online rows, with the reason."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from volcast.featurestore import refusal
from volcast.series import Series

SERIES = Series("EUR/USD", "1h")
LATEST = pd.Timestamp("2024-06-03T12:00:00Z")
NOW = pd.Timestamp("2024-06-03T13:30:00Z")


def check(event: pd.Timestamp | None, **kw: object) -> str | None:
    options: dict[str, object] = {
        "values": {"a": 1.0, "b": 2.0},
        "needed": ["a", "b"],
        "latest_bar": LATEST,
        "live": False,
        "now": NOW,
        "max_lag_bars": 0,
        "ttl_bars": 3.0,
    }
    options.update(kw)
    return refusal(SERIES, event_time=event, **options)  # type: ignore[arg-type]


def test_a_row_of_the_latest_bar_is_served() -> None:
    assert check(LATEST) is None


def test_a_missing_row_is_refused() -> None:
    assert "no online feature row" in str(check(None))


def test_a_row_behind_the_latest_bar_is_refused_with_its_lag() -> None:
    reason = check(LATEST - pd.Timedelta(hours=2))
    assert reason is not None
    assert "2 bar(s) behind the latest closed bar 2024-06-03T12:00:00+00:00" in reason
    assert check(LATEST - pd.Timedelta(hours=2), max_lag_bars=2) is None


def test_a_live_row_older_than_the_ttl_is_refused() -> None:
    late = NOW + pd.Timedelta(hours=4)  # the bar closed at 13:00, 3.5 bars before `late`
    reason = check(LATEST, live=True, now=late)
    assert reason is not None
    assert "beyond the feature view's TTL of 3 bars" in reason
    assert check(LATEST, live=False, now=late) is None  # files and the sample are old by nature
    assert check(LATEST, live=True, now=NOW) is None


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_a_row_lacking_a_model_input_is_refused(value: float | None) -> None:
    reason = check(LATEST, values={"a": 1.0, "b": value})
    assert reason is not None
    assert "lacks b" in reason
