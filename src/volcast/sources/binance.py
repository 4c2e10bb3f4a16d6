"""Binance spot ``/api/v3/klines`` client (public market data, no key).

Quirks handled: symbols without separator (``BTC/USDT`` -> ``BTCUSDT``); Binance.com has no
USD quote, so a volcast pair quoted in USD (``BTC/USD``) is fetched as its USDT pair
(``BTCUSDT``), which tracks the dollar closely but is not the same price; klines are arrays
``[openTime ms, "open", "high", "low", "close", "volume", closeTime, ...]`` with prices as
strings; at most 1000 per request, paged forward with ``startTime``; HTTP 429 (request
weight exceeded) and 418 (IP banned after ignoring 429s) come with ``Retry-After`` seconds,
which are honoured (a ban longer than ``max_retry_after_seconds`` fails at once); errors are
``{"code": -1121, "msg": "Invalid symbol."}`` with HTTP 400. The last kline is still forming
and is dropped. ``volume`` is in the base asset.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx
import pandas as pd

from volcast.errors import ConfigError
from volcast.schemas import empty_bars, interval_timedelta
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.frames import (
    as_utc,
    bars_frame,
    concat_bars,
    finalize_bars,
    map_interval,
)
from volcast.sources.http import HttpSource

INTERVALS = {
    "1min": "1m",
    "3min": "3m",
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "6h": "6h",
    "8h": "8h",
    "12h": "12h",
    "1d": "1d",
    "3d": "3d",
    "1w": "1w",
}


def binance_symbol(symbol: str) -> str:
    """``BTCUSDT`` from ``BTC/USDT``, ``btc-usdt``, ``BTCUSDT`` or ``BTC/USD``.

    A pair written with a separator and quoted in ``USD`` maps to the ``USDT`` pair, since
    Binance.com lists no USD quote. A compact symbol is taken as Binance's own pair name and
    never rewritten (``BTCUSD`` stays ``BTCUSD``: only the separator tells base from quote,
    and ``ETHBUSD`` also ends in ``USD``).
    """
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", symbol.upper()) if part]
    if not parts:
        raise ConfigError(
            f"binance cannot use symbol {symbol!r}; use a pair such as BTC/USDT",
            provider="binance",
            symbol=symbol,
        )
    if len(parts) == 2 and parts[1] == "USD":
        parts[1] = "USDT"
    return "".join(parts)


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


class BinanceSource(HttpSource):
    """Spot klines from Binance (``BTC/USDT`` and other listed pairs).

    ``symbol`` goes through :func:`binance_symbol`: ``BTC/USD`` is fetched as ``BTCUSDT``
    (Binance.com quotes in USDT), ``BTC/USDT`` and ``BTCUSDT`` are used as they are.
    """

    name: str = "binance"
    key_env_var: ClassVar[str | None] = None
    default_min_interval: ClassVar[float] = 0.1  # 6000 weight/min; klines weigh 2
    max_page_size: ClassVar[int] = 1000
    retry_statuses: ClassVar[frozenset[int]] = frozenset({418, 429})

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Closed bars strictly after ``since`` (the last ``lookback_bars`` intervals when None)."""
        kline_interval = map_interval(interval, INTERVALS, provider=self.name)
        pair = binance_symbol(symbol)
        step = interval_timedelta(interval)
        now = self.now()
        first = now - self.lookback_bars * step if since is None else as_utc(since)
        start_ms = _ms(first) + (0 if since is None else 1)
        frames: list[pd.DataFrame] = []
        while True:
            params: dict[str, str | int | float] = {
                "symbol": pair,
                "interval": kline_interval,
                "startTime": start_ms,
                "limit": self.page_size,
            }
            payload = self._get_json("/api/v3/klines", params=params, symbol=symbol, on_raw=on_raw)
            page = self._parse(payload, symbol=symbol)
            frames.append(page)
            if len(payload) < self.page_size or page.empty:
                break
            next_ms = _ms(page["timestamp"].max()) + 1
            if next_ms <= start_ms:
                break
            start_ms = next_ms
        return finalize_bars(concat_bars(frames), interval=step, now=now, since=since)

    def _parse(self, rows: list[list[Any]], *, symbol: str) -> pd.DataFrame:
        if not rows:
            return empty_bars()
        try:
            return bars_frame(
                timestamps=pd.to_datetime([int(r[0]) for r in rows], unit="ms", utc=True),
                open=[r[1] for r in rows],
                high=[r[2] for r in rows],
                low=[r[3] for r in rows],
                close=[r[4] for r in rows],
                volume=[r[5] for r in rows],
            )
        except (IndexError, TypeError, ValueError) as exc:
            raise self._bad_payload(f"bad kline ({exc!r})", symbol=symbol) from None

    def _check_payload(self, payload: Any, *, symbol: str, status: int) -> None:
        if not isinstance(payload, list):
            raise self._bad_payload("expected a JSON array of klines", symbol=symbol, status=status)

    def _error_detail(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "msg" in body:
            return self.mask(f"{body['msg']} (code {body.get('code')})")
        return super()._error_detail(response)
