"""OANDA v20 ``/v3/instruments/{instrument}/candles`` client (key ``VOLCAST_OANDA_API_KEY``).

Quirks handled: Bearer authentication; instruments spelled ``EUR_USD``; granularities
``M1``...``H1``...``D``/``W``; mid prices as strings under ``mid.o/h/l/c``; times in RFC3339
with nanoseconds; the forming candle carries ``complete: false`` and is dropped; at most
5000 candles per request, so a fetch ``since`` a bar pages forward with ``from`` +
``includeFirst=false`` + ``count``. Daily candles are aligned to UTC midnight and weekly ones
to Monday (OANDA's default is 17:00 New York). ``volume`` is OANDA's tick volume (price
updates in the bar), not traded volume.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

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
    "1min": "M1",
    "2min": "M2",
    "4min": "M4",
    "5min": "M5",
    "10min": "M10",
    "15min": "M15",
    "30min": "M30",
    "1h": "H1",
    "2h": "H2",
    "3h": "H3",
    "4h": "H4",
    "6h": "H6",
    "8h": "H8",
    "12h": "H12",
    "1d": "D",
    "1w": "W",
}
_RFC3339 = "%Y-%m-%dT%H:%M:%S.%fZ"


class OandaSource(HttpSource):
    """Mid-price bars from OANDA (practice or live API, by ``base_url``)."""

    name: str = "oanda"
    key_env_var: ClassVar[str | None] = "VOLCAST_OANDA_API_KEY"
    default_min_interval: ClassVar[float] = 0.1  # OANDA allows 120 requests/s per connection
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
        granularity = map_interval(interval, INTERVALS, provider=self.name)
        instrument = "_".join(split_pair(symbol, provider=self.name))
        step = interval_timedelta(interval)
        now = self.now()
        path = f"/v3/instruments/{instrument}/candles"
        base: dict[str, str | int | float] = {
            "granularity": granularity,
            "price": "M",
            "dailyAlignment": 0,
            "alignmentTimezone": "UTC",
            "weeklyAlignment": "Monday",
        }
        if since is None:
            count = min(self.lookback_bars, self.page_size)
            candles = self._candles(path, {**base, "count": count}, symbol=symbol, on_raw=on_raw)
            frames = [self._parse(candles, symbol=symbol)]
        else:
            frames = []
            start = as_utc(since)
            while True:
                params = {
                    **base,
                    "from": start.strftime(_RFC3339),
                    "includeFirst": "false",
                    "count": self.page_size,
                }
                candles = self._candles(path, params, symbol=symbol, on_raw=on_raw)
                page = self._parse(candles, symbol=symbol)
                frames.append(page)
                if len(candles) < self.page_size or page.empty:
                    break
                last = page["timestamp"].max()
                if last <= start:
                    break
                start = last
        return finalize_bars(concat_bars(frames), interval=step, now=now, since=since)

    def _candles(
        self,
        path: str,
        params: dict[str, str | int | float],
        *,
        symbol: str,
        on_raw: RawSink,
    ) -> list[dict[str, Any]]:
        payload = self._get_json(
            path,
            params=params,
            symbol=symbol,
            on_raw=on_raw,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Accept-Datetime-Format": "RFC3339",
            },
        )
        candles = payload.get("candles") if isinstance(payload, dict) else None
        if not isinstance(candles, list):
            raise self._bad_payload("no 'candles' list", symbol=symbol)
        return candles

    def _parse(self, candles: list[dict[str, Any]], *, symbol: str) -> pd.DataFrame:
        try:
            closed = [c for c in candles if c.get("complete", False) is True]
            if not closed:
                return empty_bars()
            return bars_frame(
                timestamps=[c["time"] for c in closed],
                open=[c["mid"]["o"] for c in closed],
                high=[c["mid"]["h"] for c in closed],
                low=[c["mid"]["l"] for c in closed],
                close=[c["mid"]["c"] for c in closed],
                volume=[c.get("volume") for c in closed],
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self._bad_payload(f"bad candle ({exc!r})", symbol=symbol) from None
