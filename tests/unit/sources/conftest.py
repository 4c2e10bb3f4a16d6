"""A real local HTTP server replaying provider payloads, and the five live-provider cases."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest

from volcast.sources.alphavantage import AlphaVantageSource
from volcast.sources.binance import BinanceSource
from volcast.sources.cryptocompare import CryptoCompareSource
from volcast.sources.http import HttpSource
from volcast.sources.oanda import OandaSource
from volcast.sources.twelvedata import TwelveDataSource

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
NOW = pd.Timestamp("2024-01-03 00:30:00", tz="UTC")
"""The test clock: the fixtures' last bar (2024-01-03 00:00) is still forming."""
FORMING = pd.Timestamp("2024-01-03 00:00:00", tz="UTC")
API_KEY = "k3y-SECRET-123"


def payload(provider: str, name: str) -> bytes:
    """The bytes of ``tests/fixtures/payloads/<provider>/<name>.json``."""
    return (PAYLOADS / provider / f"{name}.json").read_bytes()


@dataclass
class Reply:
    """One canned HTTP response; ``delay`` seconds pass before it is sent."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """A request the server received and the body it answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    body: bytes


Responder = Reply | Callable[[dict[str, str]], Reply]


class ReplayServer:
    """A threaded HTTP server on 127.0.0.1 answering from per-path queues of replies.

    ``queue(path, *replies)`` answers the next requests to ``path`` in order; ``always(path,
    reply)`` answers once the queue is empty. A reply may be a function of the query
    (to emulate a provider's paging). Unknown paths get a 404. Every request is recorded.
    """

    def __init__(self) -> None:
        self._queues: dict[str, deque[Responder]] = {}
        self._fallback: dict[str, Responder] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                reply = server._reply_for(parts.path, query)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                with server._lock:
                    server.requests.append(
                        Recorded(
                            method="GET",
                            path=parts.path,
                            query=query,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            status=reply.status,
                            body=reply.body,
                        )
                    )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, path: str, *replies: Responder) -> None:
        with self._lock:
            self._queues.setdefault(path, deque()).extend(replies)

    def always(self, path: str, reply: Responder) -> None:
        with self._lock:
            self._fallback[path] = reply

    def _reply_for(self, path: str, query: dict[str, str]) -> Reply:
        with self._lock:
            queue = self._queues.get(path)
            responder = queue.popleft() if queue else self._fallback.get(path)
        if responder is None:
            body = json.dumps({"error": f"no reply for {path}"}).encode()
            return Reply(status=404, body=body)
        return responder(query) if callable(responder) else responder

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A started replay server, stopped after the test."""
    replay = ReplayServer()
    replay.start()
    yield replay
    replay.stop()


class Sleeps(list[float]):
    """Records requested waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


class RawSinkRecorder(list[tuple[bytes, str]]):
    """Records what a source hands to ``on_raw``."""

    def __call__(self, data: bytes, ext: str) -> None:
        self.append((data, ext))


@pytest.fixture
def raw() -> RawSinkRecorder:
    return RawSinkRecorder()


def _td_bars(doc: Any) -> list[tuple[pd.Timestamp, float]]:
    return [(pd.Timestamp(v["datetime"], tz="UTC"), float(v["close"])) for v in doc["values"]]


def _av_bars(doc: Any) -> list[tuple[pd.Timestamp, float]]:
    series = doc["Time Series FX (60min)"]
    return sorted((pd.Timestamp(k, tz="UTC"), float(v["4. close"])) for k, v in series.items())


def _oanda_bars(doc: Any) -> list[tuple[pd.Timestamp, float]]:
    return [(pd.Timestamp(c["time"]), float(c["mid"]["c"])) for c in doc["candles"]]


def _cc_bars(doc: Any) -> list[tuple[pd.Timestamp, float]]:
    return [
        (pd.Timestamp(r["time"], unit="s", tz="UTC"), float(r["close"]))
        for r in doc["Data"]["Data"]
    ]


def _binance_bars(doc: Any) -> list[tuple[pd.Timestamp, float]]:
    return [(pd.Timestamp(k[0], unit="ms", tz="UTC"), float(k[4])) for k in doc]


@dataclass(frozen=True)
class Case:
    """How one provider is called and what its recorded success payload holds."""

    name: str
    cls: type[HttpSource]
    path: str
    symbol: str
    api_key: str | None
    success: str
    empty: str
    bars: Callable[[Any], list[tuple[pd.Timestamp, float]]]
    has_volume: bool
    settings_prefix: str

    def body(self, name: str | None = None) -> bytes:
        return payload(self.name, name or self.success)

    def expected(self) -> list[tuple[pd.Timestamp, float]]:
        """(timestamp, close) of every bar in the success payload, forming one included."""
        return self.bars(json.loads(self.body()))

    def make(self, server: ReplayServer, sleeps: Sleeps, **overrides: Any) -> HttpSource:
        kwargs: dict[str, Any] = {
            "api_key": self.api_key,
            "base_url": server.url,
            "timeout": 2.0,
            "max_retries": 3,
            "clock": lambda: NOW,
            "min_interval_seconds": 0.0,
            "sleep": sleeps,
            "backoff_seconds": 0.5,
        }
        kwargs.update(overrides)
        return self.cls(**kwargs)

    def __str__(self) -> str:
        return self.name


CASES = [
    Case(
        name="twelvedata",
        cls=TwelveDataSource,
        path="/time_series",
        symbol="EUR/USD",
        api_key=API_KEY,
        success="time_series_eurusd_1h",
        empty="error_400_no_data",
        bars=_td_bars,
        has_volume=False,
        settings_prefix="TWELVEDATA",
    ),
    Case(
        name="alphavantage",
        cls=AlphaVantageSource,
        path="/query",
        symbol="EUR/USD",
        api_key=API_KEY,
        success="fx_intraday_eurusd_60min",
        empty="fx_intraday_empty",
        bars=_av_bars,
        has_volume=False,
        settings_prefix="ALPHAVANTAGE",
    ),
    Case(
        name="oanda",
        cls=OandaSource,
        path="/v3/instruments/EUR_USD/candles",
        symbol="EUR/USD",
        api_key=API_KEY,
        success="candles_eur_usd_h1",
        empty="candles_empty",
        bars=_oanda_bars,
        has_volume=True,
        settings_prefix="OANDA",
    ),
    Case(
        name="cryptocompare",
        cls=CryptoCompareSource,
        path="/data/v2/histohour",
        symbol="BTC/USD",
        api_key=None,
        success="histohour_btc_usd",
        empty="histohour_empty",
        bars=_cc_bars,
        has_volume=True,
        settings_prefix="CRYPTOCOMPARE",
    ),
    Case(
        name="binance",
        cls=BinanceSource,
        path="/api/v3/klines",
        symbol="BTC/USDT",
        api_key=None,
        success="klines_btcusdt_1h",
        empty="klines_empty",
        bars=_binance_bars,
        has_volume=True,
        settings_prefix="BINANCE",
    ),
]
CASE_BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(params=CASES, ids=str)
def case(request: pytest.FixtureRequest) -> Case:
    """Each of the five live providers in turn."""
    result: Case = request.param
    return result
