"""The bar-file layouts volcast recognises with no options, one declarative profile each.

A :class:`Profile` says how a vendor writes bars: the delimiter(s), the header names (or the
field order of a file without header), which fields make the timestamp, its formats (tried in
order, parsed by pandas), the clock's time zone and what the volume column holds.
:mod:`volcast.sources.csv_detect` decides which profile a file fits. The profiles are
written so that no two match the same file; the table in ``docs/sources.md`` lists them with
a sample line each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pandas as pd

from volcast.sources.csv_parse import EPOCH, epoch_to_utc
from volcast.sources.csv_time import has_offsets

VolumeKind = Literal["traded", "tick", "none"]

_PRICES: Final = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Profile:
    """How one vendor writes bars."""

    name: str
    vendor: str
    delimiters: tuple[str, ...]
    time_formats: tuple[str, ...]
    sample: str
    names: Mapping[str, str] = field(default_factory=dict)
    """Header name (lower case) -> bar field; empty when the file has no header."""
    positions: tuple[str, ...] = ()
    """Bar field of each column of a file without header (empty when it has one)."""
    required: tuple[str, ...] = _PRICES
    extra_names: bool = False
    """Whether header names outside ``names`` are allowed (and ignored)."""
    below_header: tuple[frozenset[str], ...] = ()
    """Lines under the header before the data (a multi-level header), each known by its first
    cell (lower case): one of the names in the set."""
    timezone: str = "UTC"
    timezone_stated: bool = False
    """Whether the vendor states the clock (else UTC is an assumption, said in the notes)."""
    clock: str = "the file does not say which zone its times are in"
    """What is known of the clock, for the ingest notes and the quality report."""
    volume: VolumeKind = "traded"
    file_name: str | None = None
    """A pattern (``re.search``, any case) the data file's name must match: for a vendor whose
    layout is another's and whom only the name tells apart."""
    newest_first: bool = False
    """Whether the vendor writes the newest bar first (decides only when the times cannot)."""

    def time_fields(self, fields: Sequence[str]) -> list[str]:
        """The fields joined (with a space) into the timestamp text, in order."""
        return [f for f in ("timestamp", "date", "time") if f in fields]


def _names(*pairs: str) -> dict[str, str]:
    """``"header=field"`` pairs (a bare name maps to itself) as a name mapping."""
    out = {}
    for pair in pairs:
        name, _, target = pair.partition("=")
        out[name] = target or name
    return out


_OHLC = ("open", "high", "low", "close")

PROFILES: Final[tuple[Profile, ...]] = (
    Profile(
        name="metatrader5",
        vendor="MetaTrader 5 export",
        delimiters=("\t", ",", ";"),
        names=_names(
            "<date>=date",
            "<time>=time",
            *(f"<{p}>={p}" for p in _OHLC),
            "<tickvol>=tick_volume",
            "<vol>=volume",
            "<spread>=spread",
        ),
        required=("date", *_PRICES),
        time_formats=("%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d"),
        volume="tick",
        clock="broker server time, which the file does not state",
        sample="<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        "2025.06.23\t00:00:00\t1.33984\t1.34086\t1.33977\t1.34011\t193\t0\t8",
    ),
    Profile(
        name="metatrader4",
        vendor="MetaTrader 4 export",
        delimiters=(",", ";", "\t"),
        names=_names("date", "time", *_OHLC, "volume=tick_volume"),
        positions=("date", "time", *_OHLC, "tick_volume"),
        required=("date", "time", *_PRICES),
        time_formats=("%Y.%m.%d %H:%M", "%Y.%m.%d %H:%M:%S"),
        volume="tick",
        clock="broker server time, which the file does not state",
        sample="2025.06.23,00:00,1.33984,1.34086,1.33977,1.34011,193",
    ),
    Profile(
        name="histdata",
        vendor="HistData.com generic ASCII M1 bars",
        delimiters=(";",),
        positions=("timestamp", *_OHLC, "zero_volume"),
        time_formats=("%Y%m%d %H%M%S",),
        timezone="Etc/GMT+5",
        timezone_stated=True,
        clock="EST without daylight saving (UTC-5 all year), as HistData documents",
        volume="none",
        sample="20250623 000000;1.339840;1.340860;1.339770;1.340110;0",
    ),
    Profile(
        name="histdata-mt",
        vendor="HistData.com MetaTrader-format M1 bars",
        delimiters=(",",),
        positions=("date", "time", *_OHLC, "zero_volume"),
        time_formats=("%Y.%m.%d %H:%M",),
        file_name=r"^(DAT_MT_|HISTDATA_COM_MT_)",
        timezone="Etc/GMT+5",
        timezone_stated=True,
        clock="EST without daylight saving (UTC-5 all year), as HistData documents",
        volume="none",
        sample="2025.06.23,00:00,1.339840,1.340860,1.339770,1.340110,0",
    ),
    Profile(
        name="dukascopy",
        vendor="Dukascopy historical data export",
        delimiters=(",", ";"),
        names=_names("gmt time=timestamp", "local time=timestamp", *_OHLC, "volume"),
        required=("timestamp", *_PRICES),
        time_formats=("%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S.%f GMT%z"),
        timezone_stated=True,
        clock="Gmt time is UTC; Local time carries its GMT offset",
        sample="Gmt time,Open,High,Low,Close,Volume\n"
        "23.06.2025 00:00:00.000,1.33984,1.34086,1.33977,1.34011,4512.37",
    ),
    Profile(
        name="binance",
        vendor="Binance public kline dump (data.binance.vision)",
        delimiters=(",",),
        names=_names(
            "open_time=timestamp",
            *_OHLC,
            "volume",
            "close_time",
            "quote_volume",
            "count",
            "taker_buy_volume",
            "taker_buy_quote_volume",
            "ignore",
        ),
        positions=(
            "timestamp",
            *_OHLC,
            "volume",
            "close_time",
            "quote_volume",
            "count",
            "taker_buy_volume",
            "taker_buy_quote_volume",
            "ignore",
        ),
        required=("timestamp", *_PRICES, "close_time"),
        time_formats=(EPOCH,),
        timezone_stated=True,
        clock="epoch open times, UTC",
        sample="1750636800000000,101234.56,101500.00,101100.01,101420.10,312.45678,"
        "1750640399999999,31665432.12,45210,150.12345,15210987.65,0",
    ),
    Profile(
        name="yahoo",
        vendor="Yahoo Finance download",
        delimiters=(",",),
        names=_names(
            "date=timestamp", "datetime=timestamp", *_OHLC, "adj close=adj_close", "volume"
        ),
        required=("timestamp", *_PRICES, "adj_close"),
        time_formats=("ISO8601",),
        timezone_stated=True,
        clock="daily rows are session dates (taken as UTC midnight); intraday times carry "
        "their UTC offset",
        sample="Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2025-06-23,5969.67,6025.17,5943.23,6025.17,6025.17,5119630000",
    ),
    Profile(
        name="yfinance",
        vendor="yfinance download saved with to_csv (two-level header)",
        delimiters=(",",),
        names=_names("price=timestamp", *_OHLC, "adj close=adj_close", "volume"),
        below_header=(frozenset({"ticker"}), frozenset({"date", "datetime"})),
        required=("timestamp", *_PRICES),
        time_formats=("ISO8601",),
        timezone_stated=True,
        clock="daily rows are session dates (taken as UTC midnight); intraday times carry "
        "their UTC offset",
        sample="Price,Close,High,Low,Open,Volume\nTicker,SPY,SPY,SPY,SPY,SPY\nDate,,,,,\n"
        "2025-06-23,597.44,597.55,591.46,592.57,76413300",
    ),
    Profile(
        name="stooq",
        vendor="stooq.com download",
        delimiters=(",", ";"),
        names=_names("date", "time", *_OHLC, "volume", "openint"),
        required=("date", *_PRICES),
        time_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
        sample="Date,Open,High,Low,Close,Volume\n2025-06-23,1.14998,1.15982,1.14524,1.15779,0",
    ),
    Profile(
        name="stooq-ascii",
        vendor="stooq.com bulk ASCII database",
        delimiters=(",",),
        names=_names(
            "<ticker>",
            "<per>",
            "<date>=date",
            "<time>=time",
            *(f"<{p}>={p}" for p in _OHLC),
            "<vol>=volume",
            "<openint>",
        ),
        required=("date", *_PRICES),
        time_formats=("%Y%m%d %H%M%S", "%Y%m%d"),
        sample="<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
        "EURUSD,60,20250623,010000,1.14998,1.15112,1.14951,1.15089,0,0",
    ),
    Profile(
        name="cryptodatadownload",
        vendor="CryptoDataDownload exchange export",
        delimiters=(",",),
        names=_names("date=timestamp", "unix", "symbol", *_OHLC, "volume", "tradecount"),
        extra_names=True,
        required=("timestamp", "symbol", *_PRICES),
        time_formats=("%Y-%m-%d %I-%p", "ISO8601", "%Y-%m-%d %H:%M:%S"),
        timezone_stated=True,
        clock="UTC, as CryptoDataDownload states in its banner line",
        newest_first=True,
        sample="Timestamps are UTC timezone,https://www.CryptoDataDownload.com\n"
        "date,symbol,open,high,low,close,volume_btc,volume\n"
        "2019-10-17 09-AM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56",
    ),
)

BY_NAME: Final = {p.name: p for p in PROFILES}


def join_time(frame: pd.DataFrame, time_fields: Sequence[str]) -> pd.Series:
    """The time fields of each row joined with a space (an empty cell leaves the row NaN)."""
    text: pd.Series = frame[time_fields[0]].astype(object).str.strip()
    for name in time_fields[1:]:
        text = text + " " + frame[name].astype(object).str.strip()
    return text


def parse_time(text: pd.Series, fmt: str) -> pd.Series:
    """``text`` parsed with ``fmt`` (NaT where it fails): wall times, or UTC when offsets say."""
    if fmt == EPOCH:
        return epoch_to_utc(text)
    utc = "%z" in fmt or (fmt == "ISO8601" and has_offsets(text))
    return pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
