"""Twelve Data ``/time_series`` client (FX, equities, crypto; key ``VOLCAST_TWELVEDATA_API_KEY``).

Quirks handled: errors come inside HTTP 200 as ``{"code": 429|400|401|..., "status":
"error", "message": ...}`` (429 is retried after the per-minute credit window resets, others
fail); an empty date range is reported as a code-400 error "No data is available ..." and is
returned as an empty frame; values are strings; ``outputsize`` is at most 5000, so a fetch
``since`` a bar walks forward in ``start_date``/``end_date`` windows of at most 5000 bars.
Times are requested in UTC (``timezone=UTC``). FX has no volume (NaN).
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
)
from volcast.sources.http import HttpSource

INTERVALS = {
    "1min": "1min",
    "5min": "5min",
    "15min": "15min",
    "30min": "30min",
    "45min": "45min",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "8h": "8h",
    "1d": "1day",
    "1w": "1week",
}
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_NO_DATA = "no data is available"


def _is_no_data(payload: dict[str, Any]) -> bool:
    return payload.get("code") == 400 and _NO_DATA in str(payload.get("message", "")).lower()


class TwelveDataSource(HttpSource):
    """Bars from Twelve Data; symbols as Twelve Data spells them (``EUR/USD``, ``AAPL``)."""

    name: str = "twelvedata"
    key_env_var: ClassVar[str | None] = "VOLCAST_TWELVEDATA_API_KEY"
    default_min_interval: ClassVar[float] = 7.5  # free plan: 8 credits per minute
    max_page_size: ClassVar[int] = 5000

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Closed bars strictly after ``since`` (the latest ``lookback_bars`` when None)."""
        td_interval = map_interval(interval, INTERVALS, provider=self.name)
        step = interval_timedelta(interval)
        now = self.now()
        base: dict[str, str | int | float] = {
            "symbol": symbol,
            "interval": td_interval,
            "timezone": "UTC",
            "order": "asc",
            "format": "JSON",
            "apikey": self.api_key or "",
        }
        pages: list[pd.DataFrame] = []
        if since is None:
            size = min(self.lookback_bars, self.page_size)
            pages.append(self._page({**base, "outputsize": size}, symbol=symbol, on_raw=on_raw))
        else:
            start = as_utc(since)
            while start < now:
                end = min(start + self.page_size * step, now)
                params = {
                    **base,
                    "start_date": start.strftime(_DATE_FORMAT),
                    "end_date": end.strftime(_DATE_FORMAT),
                    "outputsize": self.page_size,
                }
                pages.append(self._page(params, symbol=symbol, on_raw=on_raw))
                start = end
        return finalize_bars(concat_bars(pages), interval=step, now=now, since=since)

    def _page(
        self, params: dict[str, str | int | float], *, symbol: str, on_raw: RawSink
    ) -> pd.DataFrame:
        payload = self._get_json("/time_series", params=params, symbol=symbol, on_raw=on_raw)
        if _is_no_data(payload):
            return empty_bars()
        values = payload.get("values")
        if not isinstance(values, list):
            raise self._bad_payload("no 'values' list", symbol=symbol)
        if not values:
            return empty_bars()
        try:
            return bars_frame(
                timestamps=[v["datetime"] for v in values],
                open=[v["open"] for v in values],
                high=[v["high"] for v in values],
                low=[v["low"] for v in values],
                close=[v["close"] for v in values],
                volume=[v["volume"] for v in values] if "volume" in values[0] else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_payload(f"bad value row ({exc!r})", symbol=symbol) from None

    def _check_payload(self, payload: Any, *, symbol: str, status: int) -> None:
        if not isinstance(payload, dict):
            raise self._bad_payload("expected a JSON object", symbol=symbol, status=status)
        if payload.get("status") != "error" or _is_no_data(payload):
            return
        code = payload.get("code")
        message = self.mask(str(payload.get("message", "")))
        if code == 429:
            # Credits are counted per minute: wait until the next minute starts.
            now = self.now()
            wait = (now.floor("min") + pd.Timedelta(minutes=1) - now).total_seconds() + 1.0
            raise RetryableSourceError(
                f"twelvedata is out of API credits: {message}",
                provider=self.name,
                symbol=symbol,
                status=429,
                retry_after=wait,
            )
        raise SourceError(
            f"twelvedata refused the request for {symbol} (code {code}): {message}",
            provider=self.name,
            symbol=symbol,
            status=code if isinstance(code, int) else status,
        )
