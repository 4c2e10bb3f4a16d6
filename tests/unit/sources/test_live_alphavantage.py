"""Alpha Vantage specifics: FX vs equity functions, US/Eastern times, compact vs full."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError

from .conftest import API_KEY, CASE_BY_NAME, NOW, ReplayServer, Reply, Sleeps, payload

CASE = CASE_BY_NAME["alphavantage"]
IBM = payload("alphavantage", "time_series_intraday_ibm_60min")


def test_fx_pair_uses_fx_intraday_with_from_and_to_symbols(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    CASE.make(server, sleeps).fetch(symbol="eur/usd", interval="1h")
    assert server.requests[0].query == {
        "apikey": API_KEY,
        "datatype": "json",
        "function": "FX_INTRADAY",
        "from_symbol": "EUR",
        "to_symbol": "USD",
        "interval": "60min",
        "outputsize": "full",
    }


def test_equity_times_are_converted_from_us_eastern_to_utc(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(CASE.path, Reply(body=IBM))
    bars = CASE.make(server, sleeps).fetch(symbol="IBM", interval="1h")

    query = server.requests[0].query
    assert (query["function"], query["symbol"], query["interval"]) == (
        "TIME_SERIES_INTRADAY",
        "IBM",
        "60min",
    )
    series = json.loads(IBM)["Time Series (60min)"]
    # 04:00 EST is 09:00 UTC; the 19:00 EST bar (00:00 UTC) is still forming at the clock.
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 09:00", tz="UTC")
    assert bars["timestamp"].iloc[-1] == pd.Timestamp("2024-01-02 23:00", tz="UTC")
    assert len(bars) == len(series) - 1
    first = series["2024-01-02 04:00:00"]
    assert bars["open"].iloc[0] == float(first["1. open"])
    assert bars["volume"].iloc[0] == float(first["5. volume"])
    assert bars["volume"].dtype == np.float64


def test_recent_since_asks_for_compact_and_old_since_for_full(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.always(CASE.path, Reply(body=CASE.body()))
    source = CASE.make(server, sleeps)
    source.fetch(symbol="EUR/USD", interval="1h", since=NOW - pd.Timedelta(hours=99))
    source.fetch(symbol="EUR/USD", interval="1h", since=NOW - pd.Timedelta(hours=101))
    assert [r.query["outputsize"] for r in server.requests] == ["compact", "full"]


def test_without_since_keeps_the_latest_lookback_bars(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(CASE.path, Reply(body=CASE.body()))
    bars = CASE.make(server, sleeps, lookback_bars=10).fetch(symbol="EUR/USD", interval="1h")
    assert len(bars) == 10
    assert bars["timestamp"].iloc[-1] == pd.Timestamp("2024-01-02 23:00", tz="UTC")


def test_daily_uses_the_daily_function_without_interval(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    body = {"Meta Data": {"5. Time Zone": "UTC"}, "Time Series FX (Daily)": {}}
    server.queue(CASE.path, Reply(body=json.dumps(body).encode()))
    bars = CASE.make(server, sleeps).fetch(symbol="EUR/USD", interval="1d")
    assert bars.empty
    assert server.requests[0].query["function"] == "FX_DAILY"
    assert "interval" not in server.requests[0].query


def test_symbol_it_cannot_look_up_is_a_config_error(server: ReplayServer, sleeps: Sleeps) -> None:
    with pytest.raises(ConfigError, match="cannot look up symbol"):
        CASE.make(server, sleeps).fetch(symbol="EUR USD?", interval="1h")
