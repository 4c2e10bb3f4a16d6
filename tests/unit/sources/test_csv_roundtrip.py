"""Property: any canonical bar file, written in any supported vendor layout, reads back identical.

Each writer renders bars exactly as its vendor does (header or none, delimiter, time format,
clock, volume column), then stored as it is, gzipped, zipped or as UTF-16 text; reading the
file with no options must give the same bars, detected as that profile and no other.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from volcast.sources.csv import CsvSource
from volcast.sources.csv_profiles import PROFILES

Writer = Callable[[pd.DataFrame], str]


def _p(x: float) -> str:
    return f"{x:.5f}"


def _rows(bars: pd.DataFrame, row: Callable[[pd.Timestamp, pd.Series], str]) -> list[str]:
    return [row(t, r) for t, (_, r) in zip(bars["timestamp"], bars.iterrows(), strict=True)]


def _ohlc(r: pd.Series, sep: str) -> str:
    return sep.join(_p(r[c]) for c in ("open", "high", "low", "close"))


def mt5(bars: pd.DataFrame) -> str:
    head = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
    rows = _rows(
        bars,
        lambda t, r: f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{_ohlc(r, chr(9))}\t{int(r['volume'])}\t0\t5",
    )
    return "\r\n".join([head, *rows]) + "\r\n"


def mt4(bars: pd.DataFrame) -> str:
    rows = _rows(bars, lambda t, r: f"{t:%Y.%m.%d},{t:%H:%M},{_ohlc(r, ',')},{int(r['volume'])}")
    return "\n".join(rows) + "\n"


def histdata(bars: pd.DataFrame) -> str:
    est = bars.assign(timestamp=bars["timestamp"] - pd.Timedelta(hours=5))
    rows = _rows(est, lambda t, r: f"{t:%Y%m%d %H%M%S};{_ohlc(r, ';')};0")
    return "\r\n".join(rows) + "\r\n"


def histdata_mt(bars: pd.DataFrame) -> str:
    est = bars.assign(timestamp=bars["timestamp"] - pd.Timedelta(hours=5))
    rows = _rows(est, lambda t, r: f"{t:%Y.%m.%d},{t:%H:%M},{_ohlc(r, ',')},0")
    return "\r\n".join(rows) + "\r\n"


def dukascopy(bars: pd.DataFrame) -> str:
    rows = _rows(
        bars, lambda t, r: f"{t:%d.%m.%Y %H:%M:%S}.000,{_ohlc(r, ',')},{int(r['volume'])}.00"
    )
    return "\r\n".join(["Gmt time,Open,High,Low,Close,Volume", *rows]) + "\r\n"


def binance(bars: pd.DataFrame) -> str:
    def row(t: pd.Timestamp, r: pd.Series) -> str:
        unit = 1000 if t.year >= 2025 else 1_000_000  # microseconds from 2025
        open_ms = t.value // unit
        close = (t.value + 3_600_000_000_000) // unit - 1
        v = int(r["volume"])
        return f"{open_ms},{_ohlc(r, ',')},{v},{close},{v * 2}.5,{v},{v // 2},{v}.25,0"

    return "\n".join(_rows(bars, row)) + "\n"


def yahoo(bars: pd.DataFrame) -> str:
    rows = _rows(
        bars,
        lambda t, r: (
            f"{t:%Y-%m-%d %H:%M:%S}+00:00,{_ohlc(r, ',')},{_p(r['close'])},{int(r['volume'])}"
        ),
    )
    return "\n".join(["Datetime,Open,High,Low,Close,Adj Close,Volume", *rows]) + "\n"


def yfinance(bars: pd.DataFrame) -> str:
    """``yf.download(..., auto_adjust=False).to_csv()``: two-level header, columns A-Z."""
    rows = _rows(
        bars,
        lambda t, r: (
            f"{t:%Y-%m-%d %H:%M:%S}+00:00,{_p(r['close'])},{_p(r['close'])},{_p(r['high'])},"
            f"{_p(r['low'])},{_p(r['open'])},{int(r['volume'])}"
        ),
    )
    head = [
        "Price,Adj Close,Close,High,Low,Open,Volume",
        "Ticker,EURUSD=X,EURUSD=X,EURUSD=X,EURUSD=X,EURUSD=X,EURUSD=X",
        "Datetime,,,,,,",
    ]
    return "\n".join([*head, *rows]) + "\n"


def stooq(bars: pd.DataFrame) -> str:
    rows = _rows(bars, lambda t, r: f"{t:%Y-%m-%d},{t:%H:%M:%S},{_ohlc(r, ',')},{int(r['volume'])}")
    return "\r\n".join(["Date,Time,Open,High,Low,Close,Volume", *rows]) + "\r\n"


def stooq_ascii(bars: pd.DataFrame) -> str:
    head = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"
    rows = _rows(
        bars,
        lambda t, r: f"EURUSD,60,{t:%Y%m%d},{t:%H%M%S},{_ohlc(r, ',')},{int(r['volume'])},0",
    )
    return "\r\n".join([head, *rows]) + "\r\n"


def cryptodatadownload(bars: pd.DataFrame) -> str:
    newest_first = bars.iloc[::-1]
    rows = _rows(
        newest_first,
        lambda t, r: f"{t:%Y-%m-%d %I-%p},BTCUSD,{_ohlc(r, ',')},1.5,{int(r['volume'])}",
    )
    banner = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com"
    header = "date,symbol,open,high,low,close,volume_btc,volume"
    return "\n".join([banner, header, *rows]) + "\n"


WRITERS: dict[str, Writer] = {
    "metatrader5": mt5,
    "metatrader4": mt4,
    "histdata": histdata,
    "histdata-mt": histdata_mt,
    "dukascopy": dukascopy,
    "binance": binance,
    "yahoo": yahoo,
    "yfinance": yfinance,
    "stooq": stooq,
    "stooq-ascii": stooq_ascii,
    "cryptodatadownload": cryptodatadownload,
}


def test_every_profile_has_a_writer() -> None:
    assert set(WRITERS) == {p.name for p in PROFILES}


@st.composite
def canonical_bars(draw: st.DrawFn) -> pd.DataFrame:
    """Hourly bars at whole hours (2015-2030), prices with 5 decimals, integer volumes."""
    n = draw(st.integers(min_value=2, max_value=30))
    hours = draw(st.integers(min_value=0, max_value=15 * 365 * 24))
    start = pd.Timestamp("2015-01-01", tz="UTC") + pd.Timedelta(hours=hours)
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    level = draw(st.sampled_from([1.1, 150.0, 30000.0]))
    rng = np.random.default_rng(seed)
    close = level * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.r_[level, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="h").astype("datetime64[ns, UTC]"),
            "open": open_.round(5),
            "high": high.round(5),
            "low": low.round(5),
            "close": close.round(5),
            "volume": rng.integers(1, 1_000_000, n).astype("float64"),
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    bars=canonical_bars(),
    profile=st.sampled_from(sorted(WRITERS)),
    packing=st.sampled_from(["plain", "gzip", "zip", "utf-16"]),
)
def test_any_canonical_file_in_any_profile_reads_back_identical(
    bars: pd.DataFrame, profile: str, packing: str
) -> None:
    text = WRITERS[profile](bars).encode("utf-16" if packing == "utf-16" else "utf-8")
    name = "DAT_MT_X_M1_202501.csv" if profile == "histdata-mt" else "bars.csv"
    if packing == "gzip":
        text = gzip.compress(text)
    elif packing == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(name, text)
        text = buffer.getvalue()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(text)
        read = CsvSource(path=path).fetch(symbol="X", interval="1h")
    assert read.attrs["file_format"] == profile
    expected = bars.copy()
    if profile.startswith("histdata"):  # HistData bars carry no volume
        expected["volume"] = np.nan
    pd.testing.assert_frame_equal(read, expected)
