"""Binance specifics: forward paging with startTime/limit, 418 bans, symbol mapping."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from volcast.errors import SourceError

from .conftest import CASE_BY_NAME, NOW, RawSinkRecorder, ReplayServer, Reply, Sleeps, payload

CASE = CASE_BY_NAME["binance"]
KLINES = json.loads(CASE.body())


def emulate_klines() -> Callable[[dict[str, str]], Reply]:
    """Answers like /api/v3/klines: up to ``limit`` klines opening at or after ``startTime``."""

    def respond(query: dict[str, str]) -> Reply:
        start = int(query["startTime"])
        rows = [k for k in KLINES if k[0] >= start][: int(query["limit"])]
        return Reply(body=json.dumps(rows).encode())

    return respond


def test_pages_forward_from_the_lookback_start(
    server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    server.always(CASE.path, emulate_klines())
    bars = CASE.make(server, sleeps, page_size=20, lookback_bars=49).fetch(
        symbol="BTC/USDT", interval="1h", on_raw=raw
    )
    starts = [int(r.query["startTime"]) for r in server.requests]
    first = int((NOW - pd.Timedelta(hours=49)).timestamp() * 1000)
    assert starts == [first, KLINES[19][0] + 1, KLINES[39][0] + 1]
    assert {
        (r.query["symbol"], r.query["interval"], r.query["limit"]) for r in server.requests
    } == {("BTCUSDT", "1h", "20")}
    assert list(bars["timestamp"]) == [pd.Timestamp(k[0], unit="ms", tz="UTC") for k in KLINES[:48]]
    assert list(bars["volume"]) == [float(k[5]) for k in KLINES[:48]]
    assert raw == [(r.body, "json") for r in server.requests]


def test_ip_ban_418_honours_retry_after(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(
        CASE.path,
        Reply(
            status=418, body=payload("binance", "error_418_banned"), headers={"Retry-After": "3"}
        ),
        Reply(
            status=429,
            body=payload("binance", "error_429_too_many_requests"),
            headers={"Retry-After": "1"},
        ),
        Reply(body=CASE.body()),
    )
    bars = CASE.make(server, sleeps).fetch(symbol="BTC/USDT", interval="1h")
    assert sleeps == [3.0, 1.0]
    assert len(bars) == 48


def test_retry_after_beyond_the_limit_fails_at_once(server: ReplayServer, sleeps: Sleeps) -> None:
    server.always(
        CASE.path,
        Reply(
            status=418, body=payload("binance", "error_418_banned"), headers={"Retry-After": "7200"}
        ),
    )
    with pytest.raises(SourceError, match=r"7200s.*banned until") as info:
        CASE.make(server, sleeps, max_retry_after_seconds=300).fetch(
            symbol="BTC/USDT", interval="1h"
        )
    assert info.value.status == 418
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("symbol", "interval", "pair", "kline"),
    [
        ("btc-usdt", "1min", "BTCUSDT", "1m"),
        ("ETHBTC", "1w", "ETHBTC", "1w"),
        ("SOL/USDT", "4h", "SOLUSDT", "4h"),
        ("BTC/USD", "1h", "BTCUSDT", "1h"),
        ("eth-usd", "1d", "ETHUSDT", "1d"),
        ("BTC/USDT", "1h", "BTCUSDT", "1h"),
        ("BTCUSDT", "1h", "BTCUSDT", "1h"),
        ("BTCUSD", "1h", "BTCUSD", "1h"),
        ("ETH/BUSD", "1h", "ETHBUSD", "1h"),
    ],
)
def test_symbol_and_interval_mapping(
    server: ReplayServer, sleeps: Sleeps, symbol: str, interval: str, pair: str, kline: str
) -> None:
    server.queue(CASE.path, Reply(body=b"[]"))
    CASE.make(server, sleeps).fetch(symbol=symbol, interval=interval)
    assert (server.requests[0].query["symbol"], server.requests[0].query["interval"]) == (
        pair,
        kline,
    )


def test_usd_pair_fetches_the_usdt_klines(server: ReplayServer, sleeps: Sleeps) -> None:
    """BTC/USD (Binance.com has no USD quote) yields exactly the bars of BTC/USDT."""
    server.always(CASE.path, emulate_klines())
    usd = CASE.make(server, sleeps).fetch(symbol="BTC/USD", interval="1h")
    usdt = CASE.make(server, sleeps).fetch(symbol="BTC/USDT", interval="1h")
    assert {r.query["symbol"] for r in server.requests} == {"BTCUSDT"}
    assert len(usd) == 48
    pd.testing.assert_frame_equal(usd, usdt)


def test_rate_limit_spaces_the_pages(server: ReplayServer, sleeps: Sleeps) -> None:
    elapsed = [0.0]

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        elapsed[0] += seconds

    server.always(CASE.path, emulate_klines())
    source = CASE.make(
        server,
        sleeps,
        sleep=sleep,
        monotonic=lambda: elapsed[0],
        page_size=20,
        lookback_bars=49,
        min_interval_seconds=5.0,
    )
    source.fetch(symbol="BTC/USDT", interval="1h")
    assert len(server.requests) == 3
    assert sleeps == [5.0, 5.0]  # none before the first request, then 5 s apart
