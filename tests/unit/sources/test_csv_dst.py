"""Property: bars written on a local clock with daylight saving read back to the same UTC bars.

Bars around a DST change of a real zone (2015-2030) are written as a vendor writes them on
that clock: MetaTrader 5 (naive server time, read with ``--source-timezone``), a newest-first
CryptoDataDownload file on the same clock, and Dukascopy's ``Local time`` (each time carries
its offset). Read back, every bar is one of the bars written (same time, same prices: no
conflicting bars), none twice, and a bar is missing only when it sits in the repeated autumn
hour of a night whose file has that hour's times once each (they cannot be placed). When no
bar is left out and the file holds both passes of the repeated hour, the bars read are
exactly the bars written.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from volcast.sources.csv import CsvSource
from volcast.sources.csv_time import parse_zone

ZONES = (
    "Europe/Athens",
    "Europe/London",
    "America/New_York",
    "America/New_York+7",
    "Australia/Sydney",
    "America/Santiago",
)
FREQS = ("1h", "30min", "15min")
LAYOUTS = ("metatrader5", "cryptodatadownload", "dukascopy")


@cache
def transitions(zone_name: str) -> tuple[pd.Timestamp, ...]:
    """The UTC instants (whole hours) at which the zone's offset changes, 2015-2030."""
    zone = parse_zone(zone_name)
    hours = pd.date_range("2015-01-01", "2030-12-31", freq="h", tz="UTC")
    offsets = hours.tz_convert(zone.tz).tz_localize(None) - hours.tz_localize(None)
    changed = np.flatnonzero(offsets[1:] != offsets[:-1]) + 1
    return tuple(hours[changed])


def wall_clock(stamps: pd.Series, zone_name: str) -> pd.Series:
    zone = parse_zone(zone_name)
    return stamps.dt.tz_convert(zone.tz).dt.tz_localize(None) + zone.shift


def _ohlc(r: pd.Series, sep: str) -> str:
    return sep.join(f"{r[c]:.5f}" for c in ("open", "high", "low", "close"))


def write(bars: pd.DataFrame, layout: str, zone_name: str) -> str:
    wall = wall_clock(bars["timestamp"], zone_name)
    rows = list(zip(wall, (r for _, r in bars.iterrows()), bars["timestamp"], strict=True))
    if layout == "metatrader5":
        head = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
        lines = [
            f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{_ohlc(r, chr(9))}\t{int(r['volume'])}\t0\t7"
            for t, r, _ in rows
        ]
        return "\r\n".join([head, *lines]) + "\r\n"
    if layout == "cryptodatadownload":
        lines = [
            f"{t:%Y-%m-%d %H:%M:%S},EURUSD,{_ohlc(r, ',')},1.5,{int(r['volume'])}"
            for t, r, _ in reversed(rows)
        ]
        return "\n".join(["date,symbol,open,high,low,close,volume_eur,volume", *lines]) + "\n"
    lines = []
    for t, r, utc in rows:
        minutes = int((t - utc.tz_localize(None)).total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        offset = f"GMT{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
        lines.append(f"{t:%d.%m.%Y %H:%M:%S}.000 {offset},{_ohlc(r, ',')},{int(r['volume'])}")
    return "\r\n".join(["Local time,Open,High,Low,Close,Volume", *lines]) + "\r\n"


@st.composite
def dst_case(draw: st.DrawFn) -> tuple[pd.DataFrame, bool, str, str]:
    """(bars written, whether all can be placed, zone, layout) around one DST change."""
    zone = draw(st.sampled_from(ZONES))
    layout = draw(st.sampled_from(LAYOUTS))
    freq = pd.Timedelta(draw(st.sampled_from(FREQS)))
    change = draw(st.sampled_from(transitions(zone)))
    n = draw(st.integers(min_value=2, max_value=40))
    before = draw(st.integers(min_value=0, max_value=n))
    start = change - before * freq
    stamps = pd.date_range(start, periods=n, freq=freq).astype("datetime64[ns, UTC]")
    rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[1.1, close[:-1]]
    full = pd.DataFrame(
        {
            "timestamp": stamps,
            "open": open_.round(5),
            "high": (np.maximum(open_, close) + 0.001).round(5),
            "low": (np.minimum(open_, close) - 0.001).round(5),
            "close": close.round(5),
            "volume": np.arange(1, n + 1, dtype="float64"),  # identifies each bar
        }
    )
    keep = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    gaps = draw(st.booleans())
    written = full.loc[keep].reset_index(drop=True) if gaps and keep.sum() >= 2 else full
    # Every bar placeable: nothing left out, and an autumn change's two passes of the repeated
    # hour both wholly in the file (a file may start or end inside it, with one pass only).
    hour = pd.Timedelta(hours=1)
    offsets = wall_clock(pd.Series([change - hour, change]), zone).diff().iloc[1]
    spring = offsets > hour
    whole = start <= change - hour and stamps[-1] >= change + hour - freq
    complete = written is full and (spring or whole)
    return written, complete, zone, layout


def read_back(text: str, zone: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bars.csv"
        path.write_bytes(text.encode())
        return CsvSource(path=path, source_timezone=zone).fetch(symbol="EUR/USD", interval="1h")


@settings(max_examples=100, deadline=None)
@given(case=dst_case())
def test_bars_on_a_dst_clock_read_back_unique_and_unchanged(
    case: tuple[pd.DataFrame, bool, str, str],
) -> None:
    written, complete, zone, layout = case
    read = read_back(write(written, layout, zone), zone)
    assert read["timestamp"].is_unique
    assert read["timestamp"].is_monotonic_increasing
    # Every bar read is a bar written, at its own time: nothing shifted, nothing conflicting.
    by_id = written.set_index("volume")
    assert set(read["volume"]) <= set(by_id.index)
    mine = by_id.loc[read["volume"]].reset_index()[list(read.columns)]
    pd.testing.assert_frame_equal(read, mine)
    missing = written.loc[~written["volume"].isin(read["volume"])]
    if layout == "dukascopy" or complete:
        # Offsets in the file, or every bar can be placed: nothing is lost.
        assert missing.empty
        pd.testing.assert_frame_equal(read, written)
        return
    # A bar is left out only at a wall time the clock shows twice (autumn), and it is said.
    wall = wall_clock(missing["timestamp"], zone)
    zone_tz = parse_zone(zone).tz
    for t in wall - parse_zone(zone).shift:
        summer = pd.Timestamp(t).tz_localize(zone_tz, ambiguous=True)
        winter = pd.Timestamp(t).tz_localize(zone_tz, ambiguous=False)
        assert summer != winter, f"{t} is no repeated time, yet its bar was dropped"
    if not missing.empty:
        said = f"{len(missing)} bar(s) at a repeated local time"
        assert any(said in note for note in read.attrs["source_notes"])


@pytest.mark.parametrize("layout", ["metatrader5", "cryptodatadownload"])
def test_one_night_missing_a_repeated_bar_costs_no_other_night_its_bars(layout: str) -> None:
    """Three autumns of 24/7 hourly bars; in 2023 the first 03:00 (summer time) is missing."""
    stamps = pd.DatetimeIndex(
        np.concatenate(
            [
                pd.date_range(f"{year}-10-{day}", periods=72, freq="h", tz="UTC")
                for year, day in ((2022, 29), (2023, 28), (2024, 26))
            ]
        )
    )
    athens = stamps.tz_convert("Europe/Athens")
    first_pass_2023 = np.flatnonzero(athens.strftime("%Y-%m-%d %H") == "2023-10-29 03")[0]
    keep = np.ones(len(stamps), dtype=bool)
    keep[first_pass_2023] = False
    n = int(keep.sum())
    bars = pd.DataFrame(
        {
            "timestamp": stamps[keep].astype("datetime64[ns, UTC]"),
            "open": 1.1,
            "high": 1.2,
            "low": 1.0,
            "close": 1.15,
            "volume": np.arange(1, n + 1, dtype="float64"),
        }
    )
    read = read_back(write(bars, layout, "Europe/Athens"), "Europe/Athens")
    # Only 2023's lone 03:00 (the second pass, 01:00 UTC; its summer twin at 00:00 UTC is the
    # missing bar) cannot be placed; 2022's and 2024's repeated hours are kept, an hour apart.
    lone = pd.Timestamp("2023-10-29 01:00", tz="UTC")
    expected = bars.loc[bars["timestamp"] != lone].reset_index(drop=True)
    pd.testing.assert_frame_equal(read, expected)
    assert any("1 bar(s) at a repeated local time" in n for n in read.attrs["source_notes"])


def test_newest_first_file_of_only_the_repeated_hour_keeps_each_bar_at_its_time() -> None:
    """Both rows read 01:00 London: only the layout's habit (newest first) can order them."""
    stamps = pd.date_range("2015-10-25 00:00", periods=2, freq="h", tz="UTC")  # BST, then GMT
    bars = pd.DataFrame(
        {
            "timestamp": stamps.astype("datetime64[ns, UTC]"),
            "open": [1.1, 1.2],
            "high": [1.15, 1.25],
            "low": [1.05, 1.15],
            "close": [1.12, 1.22],
            "volume": [1.0, 2.0],
        }
    )
    read = read_back(write(bars, "cryptodatadownload", "Europe/London"), "Europe/London")
    pd.testing.assert_frame_equal(read, bars)


FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"


def test_a_dst_clock_read_as_utc_is_named_in_the_notes() -> None:
    """Read without its zone, the Athens file repeats 03:00; the notes say which clock fits."""
    bars = CsvSource(path=FORMATS / "mt5_btcusd_h1_athens_dst.csv").fetch(
        symbol="BTC/USD", interval="1h"
    )
    assert not bars["timestamp"].is_unique  # left for the quality gate's duplicates check
    hint = [n for n in bars.attrs["source_notes"] if "occur twice" in n]
    assert hint == [
        "time zone: 1 time(s) occur twice (lines [6, 7]), just where the clock Europe/Athens "
        "goes back an hour in autumn: the file is probably on that clock; pass "
        "--source-timezone Europe/Athens (or the right one) to place them"
    ]


def test_a_duplicate_in_a_spring_gap_names_no_clock_and_does_not_raise(tmp_path: Path) -> None:
    """01:00 on 26 March 2023 does not exist in London: its repeat is no autumn hour."""
    path = tmp_path / "gap.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2023-03-26 00:00:00,1.1,1.2,1.0,1.15,5\n"
        "2023-03-26 01:00:00,1.1,1.2,1.0,1.15,5\n"
        "2023-03-26 01:00:00,1.1,1.2,1.0,1.16,5\n"
        "2023-03-26 02:00:00,1.1,1.2,1.0,1.17,5\n"
    )
    bars = CsvSource(path=path).fetch(symbol="X", interval="1h")
    assert not bars["timestamp"].is_unique  # left for the quality gate's duplicates check
    assert not any("occur twice" in n for n in bars.attrs["source_notes"])


def test_a_plain_duplicate_names_no_clock(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        "2025.06.23\t10:00:00\t1.1\t1.2\t1.0\t1.15\t5\t0\t1\n"
        "2025.06.23\t10:00:00\t1.1\t1.2\t1.0\t1.16\t5\t0\t1\n"
    )
    bars = CsvSource(path=path).fetch(symbol="X", interval="1h")
    assert not any("occur twice" in n for n in bars.attrs["source_notes"])
    # With the zone given, nothing is guessed either.
    athens = CsvSource(
        path=FORMATS / "mt5_btcusd_h1_athens_dst.csv", source_timezone="Europe/Athens"
    ).fetch(symbol="BTC/USD", interval="1h")
    assert not any("probably on that clock" in n for n in athens.attrs["source_notes"])
