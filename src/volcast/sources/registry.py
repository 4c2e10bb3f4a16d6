"""Build a source by name from settings, parameters and CLI options."""

from __future__ import annotations

from pathlib import Path

from volcast.config import Params, Settings
from volcast.errors import ConfigError
from volcast.sources.base import Source

LIVE_SOURCES = ("twelvedata", "alphavantage", "oanda", "cryptocompare", "binance")
FILE_SOURCES = ("csv", "parquet")
SOURCES = ("sample", *FILE_SOURCES, *LIVE_SOURCES)


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter is not None else None


def make_source(
    name: str,
    *,
    settings: Settings,
    params: Params,
    path: str | Path | None = None,
    timestamp_column: str | None = None,
    timestamp_format: str | None = None,
    skip_rows: int | None = None,
    source_timezone: str | None = None,
    file_format: str | None = None,
) -> Source:
    """The source called ``name``; file sources need ``path``."""
    name = name.lower()
    timeout = settings.http_timeout_seconds
    retries = settings.http_max_retries
    if name == "sample":
        from volcast.sources.sample import SampleSource

        sp = params.sample
        return SampleSource(
            n_bars=sp.n_bars, seed=sp.seed, start=sp.start, regime_shift_at=sp.regime_shift_at
        )
    if name in FILE_SOURCES:
        if path is None:
            raise ConfigError(f"source {name!r} needs --path FILE")
        from volcast.sources.csv import CsvSource

        return CsvSource(
            path=Path(path),
            timestamp_column=timestamp_column,
            timestamp_format=timestamp_format,
            skip_rows=skip_rows,
            source_timezone=source_timezone,
            file_format=file_format,
        )
    if name == "twelvedata":
        from volcast.sources.twelvedata import TwelveDataSource

        return TwelveDataSource(
            api_key=_secret(settings.twelvedata_api_key),
            base_url=settings.twelvedata_base_url,
            timeout=timeout,
            max_retries=retries,
        )
    if name == "alphavantage":
        from volcast.sources.alphavantage import AlphaVantageSource

        return AlphaVantageSource(
            api_key=_secret(settings.alphavantage_api_key),
            base_url=settings.alphavantage_base_url,
            timeout=timeout,
            max_retries=retries,
        )
    if name == "oanda":
        from volcast.sources.oanda import OandaSource

        base = settings.oanda_base_url or (
            "https://api-fxpractice.oanda.com"
            if settings.oanda_environment == "practice"
            else "https://api-fxtrade.oanda.com"
        )
        return OandaSource(
            api_key=_secret(settings.oanda_api_key),
            base_url=base,
            timeout=timeout,
            max_retries=retries,
        )
    if name == "cryptocompare":
        from volcast.sources.cryptocompare import CryptoCompareSource

        return CryptoCompareSource(
            api_key=_secret(settings.cryptocompare_api_key),
            base_url=settings.cryptocompare_base_url,
            timeout=timeout,
            max_retries=retries,
        )
    if name == "binance":
        from volcast.sources.binance import BinanceSource

        return BinanceSource(
            api_key=None, base_url=settings.binance_base_url, timeout=timeout, max_retries=retries
        )
    if name == "news":
        raise ConfigError(
            "news is a source of headlines, not bars: run `volcast news ingest --symbol S "
            "--feed URL` (docs/sources.md#news-feeds-news)"
        )
    raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
