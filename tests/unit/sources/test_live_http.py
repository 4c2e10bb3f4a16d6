"""The shared HTTP machinery: rate limiter, Retry-After parsing, key redaction, transport errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from tests.helpers import closed_port
from volcast.errors import ConfigError, SourceError
from volcast.sources.limits import MinIntervalLimiter, parse_retry_after
from volcast.sources.redact import redact_url
from volcast.sources.twelvedata import TwelveDataSource

from .conftest import API_KEY, CASE_BY_NAME, ReplayServer, Reply, Sleeps


class FakeTime:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_spaces_requests_by_the_minimum_interval() -> None:
    fake = FakeTime()
    limiter = MinIntervalLimiter(min_interval=2.0, monotonic=fake.monotonic, sleep=fake.sleep)
    assert limiter.wait() == 0.0  # the first request goes at once
    assert limiter.wait() == 2.0
    fake.now += 0.5
    assert limiter.wait() == 1.5
    fake.now += 10.0
    assert limiter.wait() == 0.0  # idle long enough: no wait
    assert fake.slept == [2.0, 1.5]


def test_limiter_with_zero_interval_never_sleeps() -> None:
    fake = FakeTime()
    limiter = MinIntervalLimiter(min_interval=0.0, monotonic=fake.monotonic, sleep=fake.sleep)
    for _ in range(5):
        limiter.wait()
    assert fake.slept == []


def test_limiter_rejects_a_negative_interval() -> None:
    with pytest.raises(ConfigError, match="min_interval"):
        MinIntervalLimiter(min_interval=-1.0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Wed, 03 Jan 2024 00:30:30 GMT", 30.0),
        ("Wed, 03 Jan 2024 00:29:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2024, 1, 3, 0, 30, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_redact_url_hides_key_parameters_only() -> None:
    url = f"https://api.example.com/q?symbol=EUR%2FUSD&apikey={API_KEY}&api_key={API_KEY}"
    redacted = redact_url(url)
    assert API_KEY not in redacted
    assert redacted.count("REDACTED") == 2
    assert "symbol=EUR%2FUSD" in redacted


def test_httpx_request_log_never_shows_the_key(
    server: ReplayServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASE_BY_NAME["twelvedata"]
    server.queue(case.path, Reply(body=case.body()))
    with caplog.at_level(logging.INFO, logger="httpx"):
        case.make(server, sleeps).fetch(symbol="EUR/USD", interval="1h")
    request_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("apikey=REDACTED" in line for line in request_lines)
    assert API_KEY not in caplog.text
    assert server.requests[0].query["apikey"] == API_KEY  # the provider still gets it


def test_key_echoed_in_an_error_body_is_masked(
    server: ReplayServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASE_BY_NAME["twelvedata"]
    body = f'{{"message": "key {API_KEY} is suspended"}}'.encode()
    server.always(case.path, Reply(status=500, body=body))
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as info:
        case.make(server, sleeps, max_retries=1).fetch(symbol="EUR/USD", interval="1h")
    assert API_KEY not in str(info.value)
    assert "key *** is suspended" in str(info.value)
    assert API_KEY not in caplog.text


def test_unreachable_host_raises_source_error_after_retries(sleeps: Sleeps) -> None:
    with closed_port() as port:  # bound here, never listening: refused, taken by nobody
        _unreachable(sleeps, port)


def _unreachable(sleeps: Sleeps, port: int) -> None:
    source = TwelveDataSource(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{port}",
        timeout=1.0,
        max_retries=2,
        min_interval_seconds=0.0,
        sleep=sleeps,
    )
    with pytest.raises(SourceError, match="connection failed") as info:
        source.fetch(symbol="EUR/USD", interval="1h")
    assert info.value.status == "connection error"
    assert info.value.provider == "twelvedata"
    assert len(sleeps) == 2


def test_injected_client_is_used_and_left_open(server: ReplayServer, sleeps: Sleeps) -> None:
    case = CASE_BY_NAME["binance"]
    server.queue(case.path, Reply(body=case.body()))
    with httpx.Client(headers={"X-Trace": "abc"}) as client:
        with case.make(server, sleeps, client=client) as source:
            source.fetch(symbol="BTC/USDT", interval="1h")
        assert not client.is_closed
    assert server.requests[0].headers["x-trace"] == "abc"


def test_own_client_is_closed_on_exit(server: ReplayServer, sleeps: Sleeps) -> None:
    source = CASE_BY_NAME["binance"].make(server, sleeps)
    with source:
        pass
    assert source._client.is_closed


def test_negative_retries_are_a_config_error(server: ReplayServer, sleeps: Sleeps) -> None:
    with pytest.raises(ConfigError, match="max_retries"):
        CASE_BY_NAME["binance"].make(server, sleeps, max_retries=-1)
