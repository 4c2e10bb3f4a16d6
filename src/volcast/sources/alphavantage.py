"""Alpha Vantage ``/query`` client (key ``VOLCAST_ALPHAVANTAGE_API_KEY``).

A pair such as ``EUR/USD`` uses ``FX_INTRADAY`` / ``FX_DAILY`` (``from_symbol``,
``to_symbol``; no volume); anything else is an equity (``TIME_SERIES_INTRADAY`` /
``TIME_SERIES_DAILY`` with volume). Quirks handled: throttling arrives in HTTP 200 as
``{"Note": ...}`` or ``{"Information": ...}`` (retried when it speaks of the call
frequency or rate limit; other ``Information`` texts such as premium-only or demo-key notices
fail at once), ``{"Error Message": ...}`` fails; the series sits under a key such as
``"Time Series FX (60min)"`` with fields ``"1. open"``...; intraday times are in the zone of
``Meta Data`` ("US/Eastern" for equities, "UTC" for FX) and converted to UTC; daily dates
are taken as UTC midnight. There is no start parameter: a fetch ``since`` a bar within the
last 100 bars asks for ``outputsize=compact`` (100 bars), otherwise ``full``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from volcast.errors import ConfigError, RetryableSourceError, SourceError
from volcast.schemas import empty_bars, interval_timedelta
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.frames import as_utc, bars_frame, finalize_bars, map_interval
from volcast.sources.http import HttpSource

INTERVALS = {
    "1min": "1min",
    "5min": "5min",
    "15min": "15min",
    "30min": "30min",
    "1h": "60min",
    "1d": "daily",
}
_COMPACT_BARS = 100
_THROTTLE_WORDS = ("call frequency", "rate limit", "requests per", "calls per")


class AlphaVantageSource(HttpSource):
    """Bars from Alpha Vantage; ``EUR/USD``-style pairs are FX, other symbols equities."""

    name: str = "alphavantage"
    key_env_var: ClassVar[str | None] = "VOLCAST_ALPHAVANTAGE_API_KEY"
    default_min_interval: ClassVar[float] = 12.0  # free plan: 5 calls per minute

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Closed bars strictly after ``since`` (at most the latest ``lookback_bars`` when None)."""
        av_interval = map_interval(interval, INTERVALS, provider=self.name)
        step = interval_timedelta(interval)
        now = self.now()
        if not symbol or not symbol.replace("/", "").replace(".", "").replace("-", "").isalnum():
            raise ConfigError(
                f"alphavantage cannot look up symbol {symbol!r}: use a pair such as EUR/USD "
                "or an equity ticker such as IBM",
                provider=self.name,
                symbol=symbol,
            )
        params: dict[str, str | int | float] = {"apikey": self.api_key or "", "datatype": "json"}
        daily = av_interval == "daily"
        if "/" in symbol:
            base, _, quote = symbol.partition("/")
            params |= {
                "function": "FX_DAILY" if daily else "FX_INTRADAY",
                "from_symbol": base.upper(),
                "to_symbol": quote.upper(),
            }
        else:
            params |= {
                "function": "TIME_SERIES_DAILY" if daily else "TIME_SERIES_INTRADAY",
                "symbol": symbol.upper(),
            }
        if not daily:
            params["interval"] = av_interval
        recent = since is not None and now - as_utc(since) <= _COMPACT_BARS * step
        params["outputsize"] = "compact" if recent else "full"

        payload = self._get_json("/query", params=params, symbol=symbol, on_raw=on_raw)
        frame = self._parse(payload, symbol=symbol, daily=daily)
        bars = finalize_bars(frame, interval=step, now=now, since=since)
        if since is None:
            bars = bars.tail(self.lookback_bars).reset_index(drop=True)
        return bars

    def _parse(self, payload: dict[str, Any], *, symbol: str, daily: bool) -> pd.DataFrame:
        series_key = next((k for k in payload if "Time Series" in k), None)
        if series_key is None:
            raise self._bad_payload(
                f"no time-series key among {sorted(payload)[:5]}", symbol=symbol
            )
        series = payload[series_key]
        if not isinstance(series, dict):
            raise self._bad_payload(f"{series_key!r} is not an object", symbol=symbol)
        if not series:
            return empty_bars()
        meta = payload.get("Meta Data", {})
        tz = next(
            (str(v) for k, v in meta.items() if k.endswith("Time Zone")),
            "UTC",
        )
        rows = list(series.items())
        try:
            local = pd.DatetimeIndex(pd.to_datetime([k for k, _ in rows], format="ISO8601"))
            if daily:
                stamps = local.tz_localize("UTC")
            else:
                # No trading happens in the DST switch hours; any such label is dropped.
                stamps = local.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC")
            values = [v for _, v in rows]
            frame = bars_frame(
                timestamps=stamps,
                open=[v["1. open"] for v in values],
                high=[v["2. high"] for v in values],
                low=[v["3. low"] for v in values],
                close=[v["4. close"] for v in values],
                volume=[v["5. volume"] for v in values] if "5. volume" in values[0] else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_payload(f"bad bar in {series_key!r} ({exc!r})", symbol=symbol) from None
        return frame.dropna(subset=["timestamp"])

    def _check_payload(self, payload: Any, *, symbol: str, status: int) -> None:
        if not isinstance(payload, dict):
            raise self._bad_payload("expected a JSON object", symbol=symbol, status=status)
        if "Error Message" in payload:
            raise SourceError(
                f"alphavantage rejected the request for {symbol}: "
                f"{self.mask(str(payload['Error Message']))}",
                provider=self.name,
                symbol=symbol,
                status="error message",
            )
        for key in ("Note", "Information"):
            if key not in payload:
                continue
            text = self.mask(str(payload[key]))
            if key == "Note" or any(word in text.lower() for word in _THROTTLE_WORDS):
                raise RetryableSourceError(
                    f"alphavantage throttled the request: {text}",
                    provider=self.name,
                    symbol=symbol,
                    status="rate limit",
                )
            raise SourceError(
                f"alphavantage refused the request for {symbol}: {text}",
                provider=self.name,
                symbol=symbol,
                status="information",
            )
