"""CryptoCompare specifics: backward paging with toTs, zero padding before history starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from .conftest import API_KEY, CASE_BY_NAME, RawSinkRecorder, ReplayServer, Reply, Sleeps

CASE = CASE_BY_NAME["cryptocompare"]
DOC = json.loads(CASE.body())
ROWS: list[dict[str, Any]] = DOC["Data"]["Data"]


def emulate_histohour() -> Callable[[dict[str, str]], Reply]:
    """Answers like histohour: ``limit + 1`` rows ending at ``toTs``, zero-padded before."""

    def respond(query: dict[str, str]) -> Reply:
        to_ts = int(query.get("toTs", ROWS[-1]["time"]))
        limit = int(query["limit"])
        rows = [r for r in ROWS if r["time"] <= to_ts][-(limit + 1) :]
        missing = limit + 1 - len(rows)
        first = rows[0]["time"] if rows else to_ts + 3600
        pads = [
            {**ROWS[0], "time": first - 3600 * (missing - i)}
            | dict.fromkeys(("open", "high", "low", "close", "volumefrom", "volumeto"), 0)
            for i in range(missing)
        ]
        data = {**DOC["Data"], "Data": pads + rows}
        return Reply(body=json.dumps({**DOC, "Data": data}).encode())

    return respond


def test_pages_backwards_until_the_lookback_is_filled(
    server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    server.always(CASE.path, emulate_histohour())
    bars = CASE.make(server, sleeps, page_size=10, lookback_bars=30).fetch(
        symbol="BTC/USD", interval="1h", on_raw=raw
    )
    to_ts = [r.query.get("toTs") for r in server.requests]
    assert to_ts == [None, str(ROWS[38]["time"] - 1), str(ROWS[27]["time"] - 1)]
    assert {r.query["limit"] for r in server.requests} == {"10"}
    assert len(bars) == 30
    assert list(bars["timestamp"]) == [
        pd.Timestamp(r["time"], unit="s", tz="UTC") for r in ROWS[18:48]
    ]
    assert raw == [(r.body, "json") for r in server.requests]


def test_zero_padding_before_history_is_dropped_and_ends_paging(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.always(CASE.path, emulate_histohour())
    bars = CASE.make(server, sleeps, page_size=20).fetch(symbol="BTC/USD", interval="1h")
    assert len(server.requests) == 3  # the third page reaches the padding
    assert len(bars) == 48
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()


def test_since_stops_once_the_pages_reach_it(server: ReplayServer, sleeps: Sleeps) -> None:
    server.always(CASE.path, emulate_histohour())
    since = pd.Timestamp("2024-01-02 12:00", tz="UTC")
    bars = CASE.make(server, sleeps, page_size=10).fetch(
        symbol="BTC/USD", interval="1h", since=since
    )
    assert len(server.requests) == 2
    assert bars["timestamp"].iloc[0] == since + pd.Timedelta(hours=1)
    assert len(bars) == 11


@pytest.mark.parametrize(
    ("interval", "path", "aggregate"),
    [
        ("4h", "/data/v2/histohour", "4"),
        ("15min", "/data/v2/histominute", "15"),
        ("1d", "/data/v2/histoday", "1"),
    ],
)
def test_interval_maps_to_endpoint_and_aggregate(
    server: ReplayServer, sleeps: Sleeps, interval: str, path: str, aggregate: str
) -> None:
    server.queue(path, Reply(body=CASE.body("histohour_empty")))
    CASE.make(server, sleeps).fetch(symbol="eth/btc", interval=interval)
    query = server.requests[0].query
    assert (query["fsym"], query["tsym"], query["aggregate"]) == ("ETH", "BTC", aggregate)


def test_optional_key_goes_in_a_header_not_the_url(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    CASE.make(server, sleeps, api_key=API_KEY).fetch(symbol="BTC/USD", interval="1h")
    request = server.requests[0]
    assert request.headers["authorization"] == f"Apikey {API_KEY}"
    assert API_KEY not in json.dumps(request.query)
