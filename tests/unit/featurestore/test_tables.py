"""Feast names and offline rows of a series; the feature server's answer parsed."""

from __future__ import annotations

import pandas as pd
import pytest

from volcast.featurestore import entity_key, offline_rows, view_name
from volcast.featurestore.client import parse_response
from volcast.series import Series

SERIES = Series("EUR/USD", "1h")


def test_names_follow_the_series_slug() -> None:
    assert entity_key(SERIES) == "eurusd/1h"
    assert entity_key(Series("eur-usd", "1h")) == "eurusd/1h"
    assert view_name(SERIES) == "volcast_eurusd_1h"


def test_offline_rows_add_the_key_and_leave_the_label_out() -> None:
    stamps = pd.date_range("2024-01-01", periods=3, freq="1h")  # naive: UTC
    dataset = pd.DataFrame({"timestamp": stamps, "x": [1.0, 2.0, 3.0], "rv": 1e-6, "target": 0.0})
    rows = offline_rows(dataset, SERIES, ["x", "rv"])
    assert list(rows.columns) == ["series", "timestamp", "x", "rv"]
    assert (rows["series"] == "eurusd/1h").all()
    assert str(rows["timestamp"].dt.tz) == "UTC"
    assert dataset.columns.tolist() == ["timestamp", "x", "rv", "target"]  # input untouched
    with pytest.raises(KeyError, match="lacks"):
        offline_rows(dataset, SERIES, ["x", "missing"])


def test_a_feature_server_answer_is_parsed() -> None:
    doc = {
        "metadata": {"feature_names": ["series", "x", "rv"]},
        "results": [
            {
                "values": ["eurusd/1h"],
                "statuses": ["PRESENT"],
                "event_timestamps": ["1970-01-01T00:00:00Z"],
            },
            {
                "values": [1.5],
                "statuses": ["PRESENT"],
                "event_timestamps": ["2024-09-06T21:00:00Z"],
            },
            {
                "values": [None],
                "statuses": ["NOT_FOUND"],
                "event_timestamps": ["1970-01-01T00:00:00Z"],
            },
        ],
    }
    row = parse_response(doc, ["x", "rv"])
    assert row.event_time == pd.Timestamp("2024-09-06T21:00:00Z")
    assert row.values == {"x": 1.5, "rv": None}
    absent = parse_response(
        {
            "metadata": {"feature_names": ["series", "x"]},
            "results": [doc["results"][0], doc["results"][2]],
        },
        ["x"],
    )
    assert absent.event_time is None
    with pytest.raises(KeyError):
        parse_response(doc, ["x", "not_asked"])
