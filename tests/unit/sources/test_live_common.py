"""Behaviour every live source shares, run against each provider's replayed payloads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError, RetryableSourceError, SourceError
from volcast.schemas import BAR_COLUMNS
from volcast.sources.base import Source

from .conftest import (
    API_KEY,
    CASE_BY_NAME,
    FORMING,
    NOW,
    Case,
    RawSinkRecorder,
    ReplayServer,
    Reply,
    Sleeps,
    payload,
)

BAR_DTYPES = {
    "timestamp": "datetime64[ns, UTC]",
    **dict.fromkeys(("open", "high", "low", "close", "volume"), "float64"),
}


def assert_bar_schema(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == BAR_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == BAR_DTYPES
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].is_unique


def test_sources_satisfy_the_protocol(case: Case, server: ReplayServer, sleeps: Sleeps) -> None:
    source = case.make(server, sleeps)
    assert isinstance(source, Source)
    assert source.name == case.name
    assert source.live is True


def test_success_returns_closed_bars_with_the_schema(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(case.path, Reply(body=case.body()))
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")

    assert_bar_schema(bars)
    expected = [(ts, close) for ts, close in case.expected() if ts != FORMING]
    assert len(expected) == 48
    assert list(bars["timestamp"]) == [ts for ts, _ in expected]
    np.testing.assert_allclose(bars["close"], [close for _, close in expected])
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert bars["volume"].notna().all() == case.has_volume
    assert len(server.requests) == 1
    assert sleeps == []


def test_forming_bar_is_dropped(case: Case, server: ReplayServer, sleeps: Sleeps) -> None:
    assert FORMING in [ts for ts, _ in case.expected()]  # the payload does hold it
    server.queue(case.path, Reply(body=case.body()))
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")
    assert bars["timestamp"].max() == FORMING - pd.Timedelta(hours=1)
    assert (bars["timestamp"] + pd.Timedelta(hours=1) <= NOW).all()


def test_a_later_clock_keeps_the_bar_that_has_closed(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(case.path, Reply(body=case.body()))
    later = FORMING + pd.Timedelta(hours=1)
    bars = case.make(server, sleeps, clock=lambda: later).fetch(symbol=case.symbol, interval="1h")
    # OANDA's recorded candle says complete=false, and that flag wins over the clock.
    last = FORMING - pd.Timedelta(hours=1) if case.name == "oanda" else FORMING
    assert bars["timestamp"].max() == last


def test_since_keeps_only_later_bars(case: Case, server: ReplayServer, sleeps: Sleeps) -> None:
    since = pd.Timestamp("2024-01-02 12:00", tz="UTC")
    server.always(case.path, Reply(body=case.body()))
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h", since=since)

    assert_bar_schema(bars)
    assert bars["timestamp"].min() == since + pd.Timedelta(hours=1)
    assert bars["timestamp"].max() == FORMING - pd.Timedelta(hours=1)
    assert len(bars) == 11
    first = server.requests[0].query
    since_params = {
        "twelvedata": ("start_date", "2024-01-02 12:00:00"),
        "alphavantage": ("outputsize", "compact"),
        "oanda": ("from", "2024-01-02T12:00:00.000000Z"),
        "binance": ("startTime", str(int(since.timestamp() * 1000) + 1)),
    }
    if case.name in since_params:
        key, value = since_params[case.name]
        assert first[key] == value
    else:  # CryptoCompare pages backwards from now and stops once it has passed since
        assert "toTs" not in first
        assert len(server.requests) == 1


def test_naive_since_is_taken_as_utc(case: Case, server: ReplayServer, sleeps: Sleeps) -> None:
    server.always(case.path, Reply(body=case.body()))
    bars = case.make(server, sleeps).fetch(
        symbol=case.symbol, interval="1h", since=pd.Timestamp("2024-01-02 20:00")
    )
    assert list(bars["timestamp"].dt.hour) == [21, 22, 23]


def test_empty_result_is_an_empty_frame_with_the_schema(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(case.path, Reply(body=case.body(case.empty)))
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")
    assert bars.empty
    assert_bar_schema(bars)


def test_on_raw_gets_every_page_untouched(
    case: Case, server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    server.queue(case.path, Reply(status=503, body=b'{"oops": true}'), Reply(body=case.body()))
    case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h", on_raw=raw)
    # The failed attempt is not archived; the successful page is, byte for byte.
    assert raw == [(case.body(), "json")]
    assert server.requests[-1].body == case.body()


@pytest.mark.parametrize("retry_status", [429, 503])
def test_transient_status_then_success_honours_retry_after(
    case: Case, server: ReplayServer, sleeps: Sleeps, retry_status: int
) -> None:
    server.queue(
        case.path,
        Reply(status=retry_status, body=b'{"message": "slow down"}', headers={"Retry-After": "7"}),
        Reply(body=case.body()),
    )
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")
    assert len(bars) == 48
    assert sleeps == [7.0]
    assert [r.status for r in server.requests] == [retry_status, 200]


def test_server_error_then_success_backs_off_with_jitter(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.queue(
        case.path, Reply(status=500, body=b"Internal Server Error"), Reply(body=case.body())
    )
    bars = case.make(server, sleeps, backoff_seconds=0.5).fetch(symbol=case.symbol, interval="1h")
    assert len(bars) == 48
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 0.5  # first backoff: uniform in [0, backoff_seconds]


def test_persistent_failure_raises_source_error_naming_provider_symbol_status(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.always(case.path, Reply(status=503, body=b"<html>Service Unavailable</html>"))
    source = case.make(server, sleeps, max_retries=2, backoff_seconds=0.5)
    with pytest.raises(SourceError) as info:
        source.fetch(symbol=case.symbol, interval="1h")
    err = info.value
    assert not isinstance(err, RetryableSourceError)
    assert (err.provider, err.symbol, err.status) == (case.name, case.symbol, 503)
    assert case.name in str(err)
    assert case.symbol in str(err)
    assert "503" in str(err)
    assert "3 attempt" in str(err)
    assert len(server.requests) == 3
    assert len(sleeps) == 2
    assert 0.0 <= sleeps[1] <= 1.0  # second backoff doubles the window


def test_timeout_is_retried(case: Case, server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(case.path, Reply(body=case.body(), delay=1.0), Reply(body=case.body()))
    bars = case.make(server, sleeps, timeout=0.2).fetch(symbol=case.symbol, interval="1h")
    assert len(bars) == 48
    assert len(sleeps) == 1


def test_malformed_json_raises_a_clear_source_error(
    case: Case, server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    truncated = case.body()[:150]
    server.always(case.path, Reply(body=truncated))
    with pytest.raises(SourceError, match="malformed JSON") as info:
        case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h", on_raw=raw)
    assert info.value.provider == case.name
    assert info.value.status == 200
    assert len(server.requests) == 1  # not retried: the body, not the network, is broken
    assert raw == []


def test_unexpected_json_structure_raises_source_error(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    server.always(case.path, Reply(body=b'"just a string"'))
    with pytest.raises(SourceError, match="unexpected payload"):
        case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")


def test_unsupported_interval_is_a_config_error(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    with pytest.raises(ConfigError, match=r"does not support interval '7min'"):
        case.make(server, sleeps).fetch(symbol=case.symbol, interval="7min")
    assert server.requests == []


def test_credentials_are_sent_the_provider_way(
    case: Case, server: ReplayServer, sleeps: Sleeps
) -> None:
    key = case.api_key or API_KEY
    server.queue(case.path, Reply(body=case.body()))
    case.make(server, sleeps, api_key=key).fetch(symbol=case.symbol, interval="1h")
    request = server.requests[0]
    where = {
        "twelvedata": request.query.get("apikey"),
        "alphavantage": request.query.get("apikey"),
        "oanda": request.headers.get("authorization"),
        "cryptocompare": request.headers.get("authorization"),
        "binance": None,
    }[case.name]
    expected = {"oanda": f"Bearer {key}", "cryptocompare": f"Apikey {key}"}.get(case.name, key)
    if case.name == "binance":  # public market data: the key is never sent
        assert key not in repr(request)
    else:
        assert where == expected


@pytest.mark.parametrize(
    ("name", "env_var"),
    [
        ("twelvedata", "VOLCAST_TWELVEDATA_API_KEY"),
        ("alphavantage", "VOLCAST_ALPHAVANTAGE_API_KEY"),
        ("oanda", "VOLCAST_OANDA_API_KEY"),
    ],
)
def test_missing_key_is_a_config_error_naming_the_env_var(
    name: str, env_var: str, server: ReplayServer, sleeps: Sleeps
) -> None:
    with pytest.raises(ConfigError, match=env_var):
        CASE_BY_NAME[name].make(server, sleeps, api_key=None)


@pytest.mark.parametrize(
    ("name", "fixture", "message"),
    [
        ("twelvedata", "error_401_apikey", "apikey"),
        ("alphavantage", "error_message", "Invalid API call"),
        ("alphavantage", "information_premium", "premium endpoint"),
        ("cryptocompare", "error_invalid_pair", "market does not exist"),
    ],
)
def test_error_inside_http_200_fails_without_retry(
    name: str,
    fixture: str,
    message: str,
    server: ReplayServer,
    sleeps: Sleeps,
    raw: RawSinkRecorder,
) -> None:
    case = CASE_BY_NAME[name]
    server.always(case.path, Reply(body=payload(name, fixture)))
    with pytest.raises(SourceError, match=message) as info:
        case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h", on_raw=raw)
    assert not isinstance(info.value, RetryableSourceError)
    assert info.value.provider == name
    assert info.value.symbol == case.symbol
    assert len(server.requests) == 1
    assert raw == []


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("twelvedata", "error_429_credits"),
        ("alphavantage", "note_rate_limit"),
        ("alphavantage", "information_rate_limit"),
        ("cryptocompare", "error_rate_limit"),
    ],
)
def test_rate_limit_inside_http_200_is_retried(
    name: str, fixture: str, server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    case = CASE_BY_NAME[name]
    server.queue(case.path, Reply(body=payload(name, fixture)), Reply(body=case.body()))
    bars = case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h", on_raw=raw)
    assert len(bars) == 48
    assert len(sleeps) == 1
    assert raw == [(case.body(), "json")]  # the throttling notice is not archived


@pytest.mark.parametrize(
    ("name", "fixture", "status", "message"),
    [
        ("oanda", "error_400_instrument", 400, "Invalid value specified for 'instrument'"),
        ("oanda", "error_401_authorization", 401, "Insufficient authorization"),
        ("binance", "error_400_invalid_symbol", 400, r"Invalid symbol\. \(code -1121\)"),
    ],
)
def test_client_error_status_fails_without_retry(
    name: str, fixture: str, status: int, message: str, server: ReplayServer, sleeps: Sleeps
) -> None:
    case = CASE_BY_NAME[name]
    server.always(case.path, Reply(status=status, body=payload(name, fixture)))
    with pytest.raises(SourceError, match=message) as info:
        case.make(server, sleeps).fetch(symbol=case.symbol, interval="1h")
    assert info.value.status == status
    assert len(server.requests) == 1
