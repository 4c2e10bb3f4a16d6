"""CryptoCompare ``/data/v2/histo{minute,hour,day}`` client (no key needed).

An optional key (``VOLCAST_CRYPTOCOMPARE_API_KEY``) raises the free limits and is sent in the
``authorization: Apikey ...`` header, never in the URL. Quirks handled: errors come inside
HTTP 200 as ``{"Response": "Error", "Message": ...}`` (retried when ``Type`` is 99 or the
message speaks of a rate limit); bars sit in ``Data.Data`` with ``time`` in Unix seconds;
a request returns ``limit + 1`` bars (``limit`` at most 2000) ending at ``toTs``, so history
is paged backwards with ``toTs``; before a coin's history starts the API pads with all-zero
bars, which are dropped and end the paging. Intervals of several minutes or hours use
``aggregate``. ``volume`` is ``volumefrom``, the volume in the base currency.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from volcast.errors import RetryableSourceError, SourceError
from volcast.schemas import empty_bars, interval_timedelta
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.frames import (
    as_utc,
    bars_frame,
    concat_bars,
    finalize_bars,
    map_interval,
    split_pair,
)
from volcast.sources.http import HttpSource

INTERVALS = {
    "1min": "histominute:1",
    "5min": "histominute:5",
    "15min": "histominute:15",
    "30min": "histominute:30",
    "1h": "histohour:1",
    "2h": "histohour:2",
    "4h": "histohour:4",
    "6h": "histohour:6",
    "12h": "histohour:12",
    "1d": "histoday:1",
}
_RATE_LIMIT_TYPE = 99


class CryptoCompareSource(HttpSource):
    """Aggregated (CCCAGG) crypto bars from CryptoCompare, e.g. ``BTC/USD``."""

    name: str = "cryptocompare"
    key_env_var: ClassVar[str | None] = None
    default_min_interval: ClassVar[float] = 0.5  # anonymous use: a few calls per second
    max_page_size: ClassVar[int] = 2000

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Closed bars strictly after ``since`` (the latest ``lookback_bars`` when None)."""
        endpoint, _, aggregate = map_interval(interval, INTERVALS, provider=self.name).partition(
            ":"
        )
        fsym, tsym = split_pair(symbol, provider=self.name)
        step = interval_timedelta(interval)
        now = self.now()
        start = as_utc(since) if since is not None else None
        headers = {"authorization": f"Apikey {self.api_key}"} if self.api_key else {}
        params: dict[str, str | int | float] = {
            "fsym": fsym,
            "tsym": tsym,
            "limit": self.page_size,
            "aggregate": int(aggregate),
        }
        frames: list[pd.DataFrame] = []
        collected = 0
        while True:
            payload = self._get_json(
                f"/data/v2/{endpoint}", params=params, symbol=symbol, on_raw=on_raw, headers=headers
            )
            rows = self._rows(payload, symbol=symbol)
            real = [r for r in rows if any(r.get(k) for k in ("open", "high", "low", "close"))]
            page = self._parse(real, symbol=symbol)
            frames.insert(0, page)
            collected += len(page)
            if page.empty or len(real) < len(rows) or len(rows) < self.page_size + 1:
                break
            earliest = page["timestamp"].min()
            if start is not None and earliest <= start:
                break
            if start is None and collected >= self.lookback_bars:
                break
            to_ts = int(earliest.timestamp()) - 1
            if "toTs" in params and to_ts >= int(params["toTs"]):
                break
            params = {**params, "toTs": to_ts}
        bars = finalize_bars(concat_bars(frames), interval=step, now=now, since=since)
        if since is None:
            bars = bars.tail(self.lookback_bars).reset_index(drop=True)
        return bars

    def _rows(self, payload: dict[str, Any], *, symbol: str) -> list[dict[str, Any]]:
        data = payload.get("Data")
        rows = data.get("Data") if isinstance(data, dict) else None
        if rows is None and data in ({}, []):
            return []
        if not isinstance(rows, list):
            raise self._bad_payload("no 'Data.Data' list", symbol=symbol)
        return rows

    def _parse(self, rows: list[dict[str, Any]], *, symbol: str) -> pd.DataFrame:
        if not rows:
            return empty_bars()
        try:
            return bars_frame(
                timestamps=pd.to_datetime([int(r["time"]) for r in rows], unit="s", utc=True),
                open=[r["open"] for r in rows],
                high=[r["high"] for r in rows],
                low=[r["low"] for r in rows],
                close=[r["close"] for r in rows],
                volume=[r.get("volumefrom") for r in rows],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_payload(f"bad bar in Data.Data ({exc!r})", symbol=symbol) from None

    def _check_payload(self, payload: Any, *, symbol: str, status: int) -> None:
        if not isinstance(payload, dict):
            raise self._bad_payload("expected a JSON object", symbol=symbol, status=status)
        if payload.get("Response") != "Error":
            return
        message = self.mask(str(payload.get("Message", "")))
        if payload.get("Type") == _RATE_LIMIT_TYPE or "rate limit" in message.lower():
            raise RetryableSourceError(
                f"cryptocompare rate limit: {message}",
                provider=self.name,
                symbol=symbol,
                status="rate limit",
            )
        raise SourceError(
            f"cryptocompare rejected the request for {symbol}: {message}",
            provider=self.name,
            symbol=symbol,
            status=f"type {payload.get('Type')}",
        )
