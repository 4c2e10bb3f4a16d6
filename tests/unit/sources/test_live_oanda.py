"""OANDA specifics: forward paging with from/includeFirst/count, alignment, complete flag."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from volcast.errors import ConfigError

from .conftest import API_KEY, CASE_BY_NAME, RawSinkRecorder, ReplayServer, Reply, Sleeps

CASE = CASE_BY_NAME["oanda"]
DOC = json.loads(CASE.body())


def emulate_candles() -> Callable[[dict[str, str]], Reply]:
    """Answers like /candles: up to ``count`` candles from ``from`` (exclusive if asked)."""

    def respond(query: dict[str, str]) -> Reply:
        candles = DOC["candles"]
        if "from" in query:
            start = pd.Timestamp(query["from"])
            exclusive = query.get("includeFirst") == "false"
            candles = [
                c
                for c in candles
                if pd.Timestamp(c["time"]) > start
                or (not exclusive and pd.Timestamp(c["time"]) == start)
            ][: int(query["count"])]
        else:
            candles = candles[-int(query["count"]) :]
        return Reply(body=json.dumps({**DOC, "candles": candles}).encode())

    return respond


def test_since_pages_forward_from_the_last_candle(
    server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    server.always(CASE.path, emulate_candles())
    since = pd.Timestamp("2024-01-01 03:00", tz="UTC")
    bars = CASE.make(server, sleeps, page_size=20).fetch(
        symbol="EUR/USD", interval="1h", since=since, on_raw=raw
    )

    assert [r.query["from"] for r in server.requests] == [
        "2024-01-01T03:00:00.000000Z",
        "2024-01-01T23:00:00.000000Z",
        "2024-01-02T19:00:00.000000Z",
    ]
    for request in server.requests:
        assert request.query["includeFirst"] == "false"
        assert request.query["count"] == "20"
        assert request.query["granularity"] == "H1"
        assert request.query["price"] == "M"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.headers["accept-datetime-format"] == "RFC3339"
    expected = pd.date_range("2024-01-01 04:00", "2024-01-02 23:00", freq="h", tz="UTC")
    assert list(bars["timestamp"]) == list(expected)
    assert raw == [(r.body, "json") for r in server.requests]


def test_incomplete_candle_is_dropped_even_when_the_clock_says_closed(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    later = pd.Timestamp("2024-01-05", tz="UTC")
    bars = CASE.make(server, sleeps, clock=lambda: later).fetch(symbol="EUR/USD", interval="1h")
    assert DOC["candles"][-1]["complete"] is False
    assert bars["timestamp"].iloc[-1] == pd.Timestamp(DOC["candles"][-2]["time"])


def test_tick_volume_is_kept(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    bars = CASE.make(server, sleeps).fetch(symbol="EUR/USD", interval="1h")
    assert list(bars["volume"]) == [float(c["volume"]) for c in DOC["candles"][:-1]]


def test_without_since_asks_for_the_latest_count(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    CASE.make(server, sleeps, lookback_bars=30).fetch(symbol="EUR_USD", interval="1h")
    query = server.requests[0].query
    assert query["count"] == "30"
    assert "from" not in query


def test_daily_candles_are_aligned_to_utc_midnight(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(
        "/v3/instruments/GBP_JPY/candles",
        Reply(body=b'{"instrument":"GBP_JPY","granularity":"D","candles":[]}'),
    )
    CASE.make(server, sleeps).fetch(symbol="GBP/JPY", interval="1d")
    query = server.requests[0].query
    assert (query["granularity"], query["dailyAlignment"], query["alignmentTimezone"]) == (
        "D",
        "0",
        "UTC",
    )


def test_symbol_that_is_not_a_pair_is_a_config_error(server: ReplayServer, sleeps: Sleeps) -> None:
    with pytest.raises(ConfigError, match="currency pair"):
        CASE.make(server, sleeps).fetch(symbol="EURUSD", interval="1h")
