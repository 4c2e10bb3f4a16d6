"""Twelve Data specifics: start/end-date windowing, no-data answers, per-minute credits."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from volcast.errors import ConfigError

from .conftest import CASE_BY_NAME, NOW, RawSinkRecorder, ReplayServer, Reply, Sleeps, payload

CASE = CASE_BY_NAME["twelvedata"]
DOC = json.loads(CASE.body())
NO_DATA = payload("twelvedata", "error_400_no_data")


def emulate_time_series(*, gap: tuple[str, str] | None = None) -> Callable[[dict[str, str]], Reply]:
    """Answers like /time_series: the recorded bars inside [start_date, end_date]."""

    def respond(query: dict[str, str]) -> Reply:
        values = [
            v
            for v in DOC["values"]
            if query["start_date"] <= v["datetime"] <= query["end_date"]
            and not (gap and gap[0] <= v["datetime"] <= gap[1])
        ][: int(query["outputsize"])]
        if not values:
            return Reply(body=NO_DATA)
        return Reply(body=json.dumps({**DOC, "values": values}).encode())

    return respond


def test_since_walks_forward_in_windows_of_page_size_bars(
    server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    server.always(CASE.path, emulate_time_series())
    source = CASE.make(server, sleeps, page_size=12)
    since = pd.Timestamp("2024-01-01 05:00", tz="UTC")
    bars = source.fetch(symbol="EUR/USD", interval="1h", since=since, on_raw=raw)

    windows = [(r.query["start_date"], r.query["end_date"]) for r in server.requests]
    assert windows == [
        ("2024-01-01 05:00:00", "2024-01-01 17:00:00"),
        ("2024-01-01 17:00:00", "2024-01-02 05:00:00"),
        ("2024-01-02 05:00:00", "2024-01-02 17:00:00"),
        ("2024-01-02 17:00:00", "2024-01-03 00:30:00"),
    ]
    assert {r.query["outputsize"] for r in server.requests} == {"12"}
    assert {r.query["timezone"] for r in server.requests} == {"UTC"}
    assert {r.query["symbol"] for r in server.requests} == {"EUR/USD"}
    expected = pd.date_range("2024-01-01 06:00", "2024-01-02 23:00", freq="h", tz="UTC")
    assert list(bars["timestamp"]) == list(expected)
    assert bars["timestamp"].is_unique  # window edges overlap on the server side
    assert raw == [(r.body, "json") for r in server.requests]


def test_a_window_without_data_is_skipped_not_an_error(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    gap = ("2024-01-02 05:00:00", "2024-01-02 17:00:00")
    server.always(CASE.path, emulate_time_series(gap=gap))
    bars = CASE.make(server, sleeps, page_size=12).fetch(
        symbol="EUR/USD", interval="1h", since=pd.Timestamp("2024-01-01 05:00", tz="UTC")
    )
    assert [r.body for r in server.requests].count(NO_DATA) == 1
    hours = set(bars["timestamp"])
    assert pd.Timestamp("2024-01-02 11:00", tz="UTC") not in hours
    assert len(bars) == 42 - 13


def test_without_since_asks_for_the_latest_lookback_bars(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    CASE.make(server, sleeps, lookback_bars=300).fetch(symbol="EUR/USD", interval="1d")
    query = server.requests[0].query
    assert query["outputsize"] == "300"
    assert query["interval"] == "1day"
    assert "start_date" not in query


def test_since_at_the_clock_makes_no_request(server: ReplayServer, sleeps: Sleeps) -> None:
    bars = CASE.make(server, sleeps).fetch(symbol="EUR/USD", interval="1h", since=NOW)
    assert bars.empty
    assert server.requests == []


@pytest.mark.parametrize(
    ("clock", "wait"),
    [(NOW, 61.0), (NOW + pd.Timedelta(seconds=45), 16.0)],
)
def test_out_of_credits_waits_for_the_next_minute(
    server: ReplayServer, sleeps: Sleeps, clock: pd.Timestamp, wait: float
) -> None:
    server.queue(
        CASE.path, Reply(body=payload("twelvedata", "error_429_credits")), Reply(body=CASE.body())
    )
    CASE.make(server, sleeps, clock=lambda: clock).fetch(symbol="EUR/USD", interval="1h")
    assert sleeps == [wait]


def test_page_size_above_the_provider_maximum_is_a_config_error(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    with pytest.raises(ConfigError, match=r"1\.\.5000"):
        CASE.make(server, sleeps, page_size=5001)
