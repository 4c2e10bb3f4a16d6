"""Monitoring events: the events.jsonl line format of SPEC 18."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.monitoring.events import EVENT_KINDS, Event


def test_spec_event_kinds() -> None:
    assert set(EVENT_KINDS) == {
        "drift", "decay", "retrain_started", "retrain_done",
        "promoted", "rejected", "bar_rejected", "source_error",
        "retrain_requested",  # an alert asked for a retrain (Alertmanager's webhook)
    }  # fmt: skip


def test_line_is_strict_json_with_utc_bar_time() -> None:
    event = Event(
        time=pd.Timestamp("2024-03-05 09:00", tz="Europe/Paris"),
        event="decay",
        detail={"statistic": np.float64(12.5), "z": math.nan, "signals": {"decay", "drift"}},
    )
    line = event.to_json()
    assert "\n" not in line
    document = json.loads(line)
    assert document == {
        "time": "2024-03-05T08:00:00+00:00",
        "event": "decay",
        "detail": {"statistic": 12.5, "z": None, "signals": ["decay", "drift"]},
    }
    back = Event.from_json(line)
    assert back.time == event.time
    assert back.event == "decay"


def test_unknown_kind_and_bad_lines_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown event"):
        Event(time=pd.Timestamp("2024-01-01", tz="UTC"), event="exploded")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a monitoring event line"):
        Event.from_json('{"event": "drift"}')
