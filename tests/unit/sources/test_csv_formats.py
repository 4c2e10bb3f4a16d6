"""Vendor files read with no options: MetaTrader, HistData, Dukascopy, Binance, Yahoo, stooq.

Each fixture under tests/fixtures/formats/ is written in its vendor's exact layout (header,
delimiter, time format, clock, line endings). The EUR/USD H1 ones all hold the same bars
(eurusd_h1_canonical.csv) over the end of US summer time, each on its own clock.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers import BTC_CSV, require_file
from volcast.errors import ConfigError, ParseError
from volcast.schemas import BAR_COLUMNS
from volcast.sources import csv_detect
from volcast.sources.csv import CsvSource
from volcast.sources.csv_profiles import BY_NAME, PROFILES
from volcast.sources.csv_vendor import head_lines, transcode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FORMATS = FIXTURES / "formats"
PRICES = ["open", "high", "low", "close"]


def read(path: Path, **options: Any) -> pd.DataFrame:
    return CsvSource(path=path, **options).fetch(symbol="EUR/USD", interval="1h")


def canonical(name: str = "eurusd_h1_canonical.csv") -> pd.DataFrame:
    frame = pd.read_csv(FORMATS / name)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    return frame


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def notes(bars: pd.DataFrame) -> str:
    return "\n".join(bars.attrs["source_notes"])


# -- the same EUR/USD bars from five vendors --------------------------------------------

FX_FILES = [
    ("mt4_eurusd_h1_gmt.csv", {}, "metatrader4", "tick"),
    ("mt4_script_eurusd_h1_utf16.csv", {}, "metatrader4", "tick"),
    ("mt5_eurusd_h1_gmt.csv", {}, "metatrader5", "tick"),
    ("mt5_eurusd_h1_nyclose.csv", {"source_timezone": "America/New_York+7"}, "metatrader5", "tick"),
    ("histdata_eurusd_h1_est.csv", {}, "histdata", "none"),
    ("DAT_MT_EURUSD_H1_202511.csv", {}, "histdata-mt", "none"),
    ("dukascopy_eurusd_h1_gmt.csv", {}, "dukascopy", "traded"),
    ("dukascopy_eurusd_h1_local.csv", {}, "dukascopy", "traded"),
    ("binance_eurusdt_1h_2025-11.csv", {}, "binance", "traded"),
    ("yahoo_eurusd_1h.csv", {}, "yahoo", "none"),
    ("yfinance_eurusd_1h.csv", {}, "yfinance", "none"),
    ("stooq_eurusd_h1.csv", {}, "stooq", "none"),
    ("stooq_eurusd_h1_ascii.txt", {}, "stooq-ascii", "none"),
    ("cryptodatadownload_eurusd_h1.csv", {}, "cryptodatadownload", "traded"),
]
"""The same 24 EUR/USD H1 bars (eurusd_h1_canonical.csv) in every profile's layout. HistData
ships M1 bars only and Binance quotes EUR in USDT: those two are the canonical bars in the
vendor's exact layout (delimiter, fields, time format, clock), not files the vendor sells."""


@pytest.mark.parametrize(("name", "options", "profile", "volume_kind"), FX_FILES)
def test_every_vendor_file_reads_to_the_canonical_bars(
    name: str, options: dict[str, Any], profile: str, volume_kind: str
) -> None:
    bars = read(FORMATS / name, **options)
    expected = canonical()
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(bars[["timestamp", *PRICES]], expected[["timestamp", *PRICES]])
    assert bars.attrs["file_format"] == profile
    assert bars.attrs["volume_kind"] == volume_kind
    if volume_kind == "tick" or profile == "binance":
        assert bars["volume"].tolist() == expected["volume"].tolist()
    elif volume_kind == "none":
        assert bars["volume"].isna().all()


def test_every_profile_reads_the_canonical_bars_with_no_options() -> None:
    assert {p for _, options, p, _ in FX_FILES if not options} == set(BY_NAME)


def test_a_utf16_metatrader_script_export_says_its_encoding() -> None:
    path = FORMATS / "mt4_script_eurusd_h1_utf16.csv"
    assert path.read_bytes()[:2] == b"\xff\xfe"  # as MQL's FileOpen writes text by default
    assert "encoding: UTF-16 text, read as such" in notes(read(path))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8-sig"])
def test_text_encodings_without_and_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    text = (FORMATS / "mt5_eurusd_h1_nyclose.csv").read_text()
    path = tmp_path / "mt5.csv"
    path.write_bytes(text.encode(encoding))
    pd.testing.assert_frame_equal(
        read(path)[list(BAR_COLUMNS)], read(FORMATS / "mt5_eurusd_h1_nyclose.csv")
    )


def test_utf16_inside_a_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("EURUSD60.csv", (FORMATS / "mt4_script_eurusd_h1_utf16.csv").read_bytes())
    path = tmp_path / "EURUSD60.zip"
    path.write_bytes(buffer.getvalue())
    assert read(path)["close"].tolist() == canonical()["close"].tolist()


def test_text_that_is_not_utf16_after_all_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\xff\xfe" + "timestamp,open".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(ParseError, match="does not decode as it"):
        read(path)


def test_yfinance_two_level_header_daily(tmp_path: Path) -> None:
    path = tmp_path / "SPY.csv"
    path.write_text(
        "Price,Adj Close,Close,High,Low,Open,Volume\n"
        "Ticker,SPY,SPY,SPY,SPY,SPY,SPY\n"
        "Date,,,,,,\n"
        "2025-06-02,589.1,592.71,592.79,585.06,587.76,61630500\n"
        "2025-06-03,592.48,596.09,597.08,591.85,592.34,63606200\n"
    )
    bars = read(path)
    assert bars.attrs["file_format"] == "yfinance"
    assert bars["timestamp"].tolist() == [utc("2025-06-02"), utc("2025-06-03")]
    assert bars["close"].tolist() == [592.71, 596.09]  # Close, not Adj Close
    assert bars["volume"].tolist() == [61630500.0, 63606200.0]


def test_yfinance_file_of_several_tickers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "Price,Close,Close,High,High,Low,Low,Open,Open,Volume,Volume\n"
        "Ticker,SPY,QQQ,SPY,QQQ,SPY,QQQ,SPY,QQQ,SPY,QQQ\n"
        "Date,,,,,,,,,,\n"
        "2025-06-02,592.71,523.2,592.79,523.9,585.06,518.1,587.76,519.8,61630500,4100000\n"
    )
    with pytest.raises(ParseError, match="several tickers"):
        read(path)


def test_metatrader5_export_on_a_new_york_close_server() -> None:
    path = FORMATS / "mt5_eurusd_h1_nyclose.csv"
    bars = read(path, source_timezone="America/New_York+7")
    # 2025.10.31 15:00 server time is GMT+3 (US summer time): 12:00 UTC.
    first = bars.iloc[0]
    assert first["timestamp"] == utc("2025-10-31 12:00")
    assert first[[*PRICES, "volume"]].tolist() == [1.1534, 1.15348, 1.15269, 1.15304, 2393.0]
    # Friday's last bar (23:00, GMT+3) and Monday's first (00:00, GMT+2 after the US change).
    assert bars["timestamp"].iloc[8] == utc("2025-10-31 20:00")
    assert bars["timestamp"].iloc[9] == utc("2025-11-02 22:00")
    assert bars["close"].iloc[9] == 1.15435
    text = notes(bars)
    assert "America/New_York+7 (--source-timezone)" in text
    assert "UTC+03:00 to UTC+02:00" in text
    assert "tick volume" in text


def test_metatrader_without_a_zone_assumes_utc_and_says_so() -> None:
    bars = read(FORMATS / "mt5_eurusd_h1_nyclose.csv")
    assert bars["timestamp"].iloc[0] == utc("2025-10-31 15:00")  # the server's wall clock
    assert "UTC assumed" in notes(bars)
    assert "broker server time" in notes(bars)


def test_metatrader4_history_center_export_without_header() -> None:
    bars = read(FORMATS / "mt4_eurusd_h1_gmt.csv")
    assert bars["timestamp"].iloc[9] == utc("2025-11-02 22:00")
    assert bars.iloc[9][[*PRICES, "volume"]].tolist() == [
        1.15478,
        1.15523,
        1.15425,
        1.15435,
        1214.0,
    ]


def test_dukascopy_local_time_carries_its_offsets_across_dst() -> None:
    bars = read(FORMATS / "dukascopy_eurusd_h1_local.csv")
    # 08:00 GMT-0400 and, after the change, 17:00 GMT-0500.
    assert bars["timestamp"].iloc[0] == utc("2025-10-31 12:00")
    assert bars["timestamp"].iloc[9] == utc("2025-11-02 22:00")
    assert bars["volume"].iloc[0] == 3278.41
    assert bars["volume"].iloc[9] == 1663.18


def test_histdata_is_est_without_daylight_saving() -> None:
    bars = read(FORMATS / "histdata_eurusd_m1.csv")
    assert len(bars) == 30
    # 17:00 EST in June is 22:00 UTC (EST all year: not New York's EDT).
    assert bars["timestamp"].iloc[0] == utc("2025-06-22 22:00")
    assert bars["timestamp"].iloc[-1] == utc("2025-06-22 22:29")
    assert bars.iloc[0][PRICES].tolist() == [1.1482, 1.148275, 1.148176, 1.148207]
    assert bars["volume"].isna().all()
    assert bars.attrs["volume_kind"] == "none"
    assert "EST without daylight saving" in notes(bars)
    # --source-timezone overrides the profile's clock.
    ny = read(FORMATS / "histdata_eurusd_m1.csv", source_timezone="America/New_York")
    assert ny["timestamp"].iloc[0] == utc("2025-06-22 21:00")


def test_binance_2025_dump_in_microseconds() -> None:
    bars = read(FORMATS / "binance_btcusdt_1h_2025-06-23.csv")
    assert len(bars) == 24
    assert bars["timestamp"].iloc[0] == utc("2025-06-23 00:00")
    assert bars["timestamp"].iloc[-1] == utc("2025-06-23 23:00")
    assert bars.iloc[-1][[*PRICES, "volume"]].tolist() == [
        104321.68,
        104648.24,
        104253.37,
        104553.27,
        484.71122,
    ]
    assert bars.attrs["file_format"] == "binance"


def test_binance_2024_dump_zipped_in_milliseconds() -> None:
    path = FORMATS / "binance_ethusdt_1h_2024-12-31.zip"
    raw: list[tuple[bytes, str]] = []
    bars = CsvSource(path=path).fetch(
        symbol="ETH/USDT", interval="1h", on_raw=lambda data, ext: raw.append((data, ext))
    )
    assert raw == [(path.read_bytes(), "zip")]  # archived untouched
    assert bars["timestamp"].iloc[0] == utc("2024-12-31 00:00")
    assert bars.iloc[0][[*PRICES, "volume"]].tolist() == [
        3360.1,
        3376.69,
        3351.91,
        3373.87,
        8063.0712,
    ]


def test_binance_months_in_milliseconds_and_microseconds_joined(tmp_path: Path) -> None:
    with zipfile.ZipFile(FORMATS / "binance_ethusdt_1h_2024-12-31.zip") as archive:
        old = archive.read("ETHUSDT-1h-2024-12-31.csv").decode()
    new = (FORMATS / "binance_btcusdt_1h_2025-06-23.csv").read_text()
    path = tmp_path / "joined.csv"
    path.write_text(old + new)
    bars = read(path)
    assert bars["timestamp"].iloc[[0, 23, 24, 47]].tolist() == [
        utc("2024-12-31 00:00"),
        utc("2024-12-31 23:00"),
        utc("2025-06-23 00:00"),
        utc("2025-06-23 23:00"),
    ]


def test_yahoo_daily_download_uses_close_not_adj_close(tmp_path: Path) -> None:
    bars = read(FORMATS / "yahoo_gspc_1d.csv")
    assert len(bars) == 19
    assert bars["timestamp"].iloc[0] == utc("2025-06-02")
    assert utc("2025-06-19") not in set(bars["timestamp"])  # Juneteenth: no session
    assert bars.iloc[0][[*PRICES, "volume"]].tolist() == [
        5911.69,
        5927.62,
        5892.35,
        5916.31,
        4986024062.0,
    ]
    path = tmp_path / "SPY.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2025-06-20,598.380005,598.650024,592.789978,594.280029,591.846008,94051400\n"
    )
    assert read(path)["close"].tolist() == [594.280029]


def test_yfinance_intraday_gzip_with_offsets_across_dst() -> None:
    path = FORMATS / "yfinance_spy_1h.csv.gz"
    raw: list[str] = []
    bars = CsvSource(path=path).fetch(
        symbol="SPY", interval="1h", on_raw=lambda data, ext: raw.append(ext)
    )
    assert raw == ["csv.gz"]
    assert bars["timestamp"].iloc[0] == utc("2025-10-31 13:30")  # 09:30-04:00
    assert bars["timestamp"].iloc[7] == utc("2025-11-03 14:30")  # 09:30-05:00
    assert bars["close"].iloc[7] == 683.930856
    assert bars["volume"].iloc[0] == 8642305.0


def test_stooq_daily_download_without_volume() -> None:
    bars = read(FORMATS / "stooq_eurusd_d.csv")
    assert bars.attrs["file_format"] == "stooq"
    assert bars["timestamp"].iloc[0] == utc("2025-06-02")
    assert bars.iloc[0][PRICES].tolist() == [1.1354, 1.14547, 1.13208, 1.14463]
    assert bars["volume"].isna().all()


def test_metatrader5_daily_export_has_no_time_column(tmp_path: Path) -> None:
    path = tmp_path / "EURUSD_D1.csv"
    path.write_text(
        "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n"
        "2025.06.23\t1.14998\t1.15982\t1.14524\t1.15779\t93211\t0\t0\r\n"
        "2025.06.24\t1.15779\t1.16412\t1.15701\t1.16095\t88123\t0\t0\r\n",
        newline="",
    )
    bars = read(path)
    assert bars.attrs["file_format"] == "metatrader5"
    assert bars["timestamp"].tolist() == [utc("2025-06-23"), utc("2025-06-24")]
    assert bars["volume"].tolist() == [93211.0, 88123.0]


def test_metatrader5_real_volume_wins_over_tick_volume(tmp_path: Path) -> None:
    path = tmp_path / "ES_H1.csv"
    path.write_text(
        MT5_HEADER + "2025.06.23\t15:00:00\t6010.25\t6022.00\t6005.50\t6019.75\t8812\t41230\t1\r\n",
        newline="",
    )
    bars = read(path)
    assert bars["volume"].tolist() == [41230.0]
    assert bars.attrs["volume_kind"] == "traded"


def test_binance_futures_dump_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1h-2025-01-01.csv"
    path.write_text(
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
        "taker_buy_quote_volume,ignore\n"
        "1735689600000,93576.00,94509.40,93489.00,94401.10,13162.577,1735693199999,"
        "1237386000.05,197564,6972.411,655487017.02,0\n"
    )
    bars = read(path)
    assert bars.attrs["file_format"] == "binance"
    assert bars.iloc[0].tolist() == [
        utc("2025-01-01 00:00"),
        93576.0,
        94509.4,
        93489.0,
        94401.1,
        13162.577,
    ]


def test_the_btc_file_is_the_cryptodatadownload_profile() -> None:
    bars = read(require_file(BTC_CSV))
    assert bars.attrs["file_format"] == "cryptodatadownload"
    assert bars.attrs["volume_kind"] == "traded"


def test_gzip_of_a_vendor_file_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "mt4.csv.gz"
    path.write_bytes(gzip.compress((FORMATS / "mt4_eurusd_h1_gmt.csv").read_bytes()))
    pd.testing.assert_frame_equal(read(path), read(FORMATS / "mt4_eurusd_h1_gmt.csv"))


# -- daylight saving on a local clock ---------------------------------------------------

MT5_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n"


def mt5_rows(*stamps: str) -> str:
    """MT5 rows at the given local 'YYYY.MM.DD HH:MM:SS' times, prices 100 + row number."""
    rows = []
    for n, stamp in enumerate(stamps):
        day, time = stamp.split()
        p = 100 + n
        rows.append(f"{day}\t{time}\t{p}.00\t{p}.50\t{p - 1}.50\t{p}.25\t{10 + n}\t0\t15\r\n")
    return MT5_HEADER + "".join(rows)


def test_repeated_autumn_hour_is_placed_by_file_order() -> None:
    bars = read(FORMATS / "mt5_btcusd_h1_athens_dst.csv", source_timezone="Europe/Athens")
    expected = canonical("btcusd_h1_athens_canonical.csv")
    pd.testing.assert_frame_equal(bars[["timestamp", *PRICES]], expected[["timestamp", *PRICES]])
    # Both 03:00 bars (EEST then EET) land an hour apart: no duplicate, no gap.
    assert bars["timestamp"].is_unique
    assert (bars["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert bars["timestamp"].iloc[[4, 5]].tolist() == [
        utc("2025-10-26 00:00"),
        utc("2025-10-26 01:00"),
    ]
    text = notes(bars)
    assert "UTC+03:00 to UTC+02:00" in text
    assert "1 local time(s) occur twice" in text


def test_spring_forward_hour_is_no_gap_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "athens_spring.csv"
    path.write_text(
        mt5_rows(
            "2025.03.30 01:00:00",
            "2025.03.30 02:00:00",
            "2025.03.30 04:00:00",  # 03:00 does not exist in Athens that night
            "2025.03.30 05:00:00",
        ),
        newline="",
    )
    bars = read(path, source_timezone="Europe/Athens")
    assert bars["timestamp"].tolist() == list(
        pd.date_range("2025-03-29 23:00", periods=4, freq="h", tz="UTC")
    )
    assert "UTC+02:00 to UTC+03:00" in notes(bars)


def test_a_time_inside_the_spring_gap_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "athens_gap.csv"
    path.write_text(
        mt5_rows("2025.03.30 02:00:00", "2025.03.30 03:30:00", "2025.03.30 04:00:00"),
        newline="",
    )
    with pytest.raises(ParseError) as info:
        read(path, source_timezone="Europe/Athens")
    assert info.value.context["line"] == 3
    assert "does not exist" in str(info.value)
    assert str(path) in str(info.value)


def test_a_lone_repeated_time_is_dropped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "athens_once.csv"
    path.write_text(
        mt5_rows("2025.10.26 02:00:00", "2025.10.26 03:00:00", "2025.10.26 04:00:00"),
        newline="",
    )
    bars = read(path, source_timezone="Europe/Athens")
    assert bars["timestamp"].tolist() == [utc("2025-10-25 23:00"), utc("2025-10-26 02:00")]
    assert bars["timestamp"].is_unique
    assert "dropped" in notes(bars)
    assert "[3]" in notes(bars)


@pytest.mark.parametrize(
    ("zone", "first"),
    [
        ("UTC+2", "2025-10-31 13:00"),
        ("GMT-05:00", "2025-10-31 20:00"),
        ("Etc/GMT-2", "2025-10-31 13:00"),
        ("Europe/Athens", "2025-10-31 13:00"),
        ("America/New_York+7", "2025-10-31 12:00"),
    ],
)
def test_source_timezone_forms(zone: str, first: str) -> None:
    bars = read(FORMATS / "mt5_eurusd_h1_nyclose.csv", source_timezone=zone)
    assert bars["timestamp"].iloc[0] == utc(first)


def test_unknown_source_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        CsvSource(path=FORMATS / "mt4_eurusd_h1_gmt.csv", source_timezone="Mars/Olympus")


def test_source_timezone_on_a_generic_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("timestamp,open,high,low,close\n2025-01-15 10:00:00,1,2,0.5,1.5\n")
    bars = read(path, source_timezone="Europe/Berlin")
    assert bars["timestamp"].tolist() == [utc("2025-01-15 09:00")]


# -- options and errors -----------------------------------------------------------------


def test_timestamp_column_takes_a_date_and_a_time(tmp_path: Path) -> None:
    path = tmp_path / "split.csv"
    path.write_text(
        "Day;Clock;Open;High;Low;Close\n23/06/2025;13:00;1.1;1.2;1.0;1.15\n"
        "23/06/2025;14:00;1.15;1.25;1.1;1.2\n"
    )
    bars = read(path, timestamp_column="Day,Clock", timestamp_format="%d/%m/%Y %H:%M")
    assert bars["timestamp"].tolist() == [utc("2025-06-23 13:00"), utc("2025-06-23 14:00")]
    # MetaTrader's angle-bracket names work with the generic options too.
    mt5 = read(FORMATS / "mt5_eurusd_h1_nyclose.csv", timestamp_column="<DATE>,<TIME>")
    assert mt5["timestamp"].iloc[0] == utc("2025-10-31 15:00")


def test_three_timestamp_columns_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DATE,TIME"):
        read(FORMATS / "stooq_eurusd_d.csv", timestamp_column="a,b,c")


def test_unknown_layout_names_the_closest_profile(tmp_path: Path) -> None:
    path = tmp_path / "histdata_commas.csv"
    path.write_text("20250623 000000,1.1,1.2,1.0,1.1,0\n20250623 000100,1.1,1.2,1.0,1.1,0\n")
    with pytest.raises(ParseError) as info:
        read(path)
    message = str(info.value)
    assert str(path) in message
    assert "closest profile histdata" in message
    assert "split by comma, not semicolon" in message
    assert info.value.context["profile"] == "histdata"


def test_vendor_file_with_the_wrong_date_order_names_what_failed(tmp_path: Path) -> None:
    path = tmp_path / "mt4_dmy.csv"
    path.write_text("31.10.2025,12:00,1.15340,1.15348,1.15269,1.15304,2393\n")
    with pytest.raises(ParseError) as info:
        read(path)
    assert "closest profile metatrader4" in str(info.value)
    assert "'31.10.2025 12:00' does not parse as %Y.%m.%d %H:%M" in str(info.value)


def test_forced_file_format_that_does_not_fit() -> None:
    with pytest.raises(ParseError) as info:
        read(FORMATS / "mt5_eurusd_h1_nyclose.csv", file_format="histdata")
    assert "not in the histdata layout" in str(info.value)
    assert "tab" in str(info.value)


def test_unknown_file_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="metatrader5"):
        CsvSource(path=FORMATS / "mt4_eurusd_h1_gmt.csv", file_format="ninjatrader")


def test_ambiguous_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    twin = BY_NAME["metatrader4"]
    monkeypatch.setattr(csv_detect, "PROFILES", (*PROFILES, twin))
    with pytest.raises(ParseError, match="fits several layouts") as info:
        read(FORMATS / "mt4_eurusd_h1_gmt.csv")
    assert "--file-format" in str(info.value)


def test_bad_time_deep_in_a_vendor_file_names_line_and_profile(tmp_path: Path) -> None:
    lines = (FORMATS / "mt4_eurusd_h1_gmt.csv").read_text().splitlines()
    lines[22] = lines[22].replace("2025.11.03", "2025.13.03")
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as info:
        read(path)
    error = info.value
    assert error.failed_checks == ["timestamp_parse"]
    assert error.context["line"] == 23
    assert "profile metatrader4" in str(error)


def test_truncated_vendor_file_names_the_line(tmp_path: Path) -> None:
    text = (FORMATS / "histdata_eurusd_m1.csv").read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[: len(text) - 20])
    with pytest.raises(ParseError, match="truncated last line") as info:
        read(path)
    assert info.value.context["line"] == 30


def test_zip_with_two_files_is_an_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    path = tmp_path / "two.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ParseError, match=r"exactly one data file.*a\.csv"):
        read(path)


def test_corrupt_gzip_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"timestamp,open\n" * 100)[:-30])
    with pytest.raises(ParseError, match="cannot unpack"):
        read(path)


# -- detection never misfires -----------------------------------------------------------

DETECTED = {
    "mt5_eurusd_h1_nyclose.csv": "metatrader5",
    "mt5_btcusd_h1_athens_dst.csv": "metatrader5",
    "mt4_eurusd_h1_gmt.csv": "metatrader4",
    "histdata_eurusd_m1.csv": "histdata",
    "dukascopy_eurusd_h1_gmt.csv": "dukascopy",
    "dukascopy_eurusd_h1_local.csv": "dukascopy",
    "binance_btcusdt_1h_2025-06-23.csv": "binance",
    "binance_ethusdt_1h_2024-12-31.zip": "binance",
    "yahoo_gspc_1d.csv": "yahoo",
    "yfinance_spy_1h.csv.gz": "yahoo",
    "stooq_eurusd_d.csv": "stooq",
    "stooq_eurusd_h1_ascii.txt": "stooq-ascii",
    "mt5_eurusd_h1_gmt.csv": "metatrader5",
    "mt4_script_eurusd_h1_utf16.csv": "metatrader4",
    "histdata_eurusd_h1_est.csv": "histdata",
    "DAT_MT_EURUSD_H1_202511.csv": "histdata-mt",
    "binance_eurusdt_1h_2025-11.csv": "binance",
    "yahoo_eurusd_1h.csv": "yahoo",
    "yfinance_eurusd_1h.csv": "yfinance",
    "stooq_eurusd_h1.csv": "stooq",
    "cryptodatadownload_eurusd_h1.csv": "cryptodatadownload",
    "eurusd_h1_canonical.csv": None,
    "btcusd_h1_athens_canonical.csv": None,
}


def _head(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            data = archive.read(archive.namelist()[0])
    elif path.suffix == ".gz":
        data = gzip.decompress(data)
    data, _ = transcode(data, path=path, symbol="X", source="csv")
    return head_lines(data)


def _all_files() -> list[tuple[Path, str | None]]:
    files: list[tuple[Path, str | None]] = [(FORMATS / n, p) for n, p in DETECTED.items()]
    files += [(p, None) for p in sorted((FIXTURES / "csv").glob("*.csv"))]
    files = [(p, "metatrader4" if p.name == "date_time_columns.csv" else e) for p, e in files]
    if BTC_CSV.exists():
        files.append((BTC_CSV, "cryptodatadownload"))
    return files


def test_every_formats_fixture_is_listed() -> None:
    assert {p.name for p in FORMATS.iterdir()} == set(DETECTED)


@pytest.mark.parametrize(("path", "expected"), _all_files(), ids=lambda v: getattr(v, "name", v))
def test_each_file_fits_exactly_its_own_profile(path: Path, expected: str | None) -> None:
    matches, misses = csv_detect.detect(_head(path), file_name=path.name)
    assert [m.profile.name for m in matches] == ([expected] if expected else [])
    assert len(matches) + len(misses) == len(PROFILES)


def test_profile_samples_are_detected_as_themselves() -> None:
    """The sample line of each profile (the one in docs/sources.md) fits it alone."""
    for profile in PROFILES:
        name = "DAT_MT_EURUSD_M1_202506.csv" if profile.file_name else "EURUSD.csv"
        matches, _ = csv_detect.detect(profile.sample.split("\n"), file_name=name)
        assert [m.profile.name for m in matches] == [profile.name]


def test_numbers_of_fixture_rows() -> None:
    """Each vendor fixture is a few dozen lines, as the issue asks."""
    for name in DETECTED:
        bars = read(FORMATS / name) if "canonical" not in name else None
        if bars is not None:
            assert 10 <= len(bars) <= 40
            assert not np.isnan(bars["close"].to_numpy()).any()


def test_source_timezone_leaves_epoch_times_alone() -> None:
    bars = read(FIXTURES / "csv" / "epoch_ms_no_volume.csv", source_timezone="Europe/Berlin")
    assert bars["timestamp"].iloc[0] == utc("2024-01-02 00:00")
    assert "--source-timezone not used" in notes(bars)


def test_an_empty_time_cell_in_a_vendor_file_is_kept_for_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n2025-06-23,1.1,1.2,1.0,1.1,5\n,1.1,1.2,1.0,1.1,5\n"
    )
    bars = read(path)
    assert bars.attrs["file_format"] == "stooq"
    assert bars["timestamp"].isna().tolist() == [False, True]


def test_yahoo_null_rows_are_yahoo_and_left_to_the_gate(tmp_path: Path) -> None:
    """Yahoo's web download writes ``null`` for a day without data; detection is not fooled."""
    path = tmp_path / "GSPC.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2025-06-02,5911.69,5927.62,5892.35,5916.31,5916.31,4986024062\n"
        "2025-06-03,null,null,null,null,null,null\n"
        "2025-06-04,5874.94,5898.50,5803.77,5832.58,5832.58,4279360204\n"
    )
    bars = read(path)
    assert bars.attrs["file_format"] == "yahoo"
    assert bars["close"].isna().tolist() == [False, True, False]


def test_metatrader5_export_resaved_with_semicolons(tmp_path: Path) -> None:
    """Excel in a comma-decimal locale saves the export with semicolons."""
    path = tmp_path / "EURUSD_H1.csv"
    text = (FORMATS / "mt5_eurusd_h1_gmt.csv").read_text()
    path.write_text(text.replace("\t", ";"))
    bars = read(path)
    assert bars.attrs["file_format"] == "metatrader5"
    pd.testing.assert_frame_equal(bars, read(FORMATS / "mt5_eurusd_h1_gmt.csv"))


def test_the_file_format_option_names_every_profile() -> None:
    from volcast.cli.options import FileFormatOpt

    words = FileFormatOpt.__metadata__[0].help.replace(",", " ").replace(".", " ").split()
    assert set(BY_NAME) <= set(words)


def test_histdata_zip_with_its_gap_report_reads_the_metatrader_format_in_est(
    tmp_path: Path,
) -> None:
    """HistData's MT-format zip: DAT_MT_*.csv (MT4 layout, EST clock) and a .txt gap report."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "DAT_MT_EURUSD_M1_202511.csv", (FORMATS / "DAT_MT_EURUSD_H1_202511.csv").read_bytes()
        )
        archive.writestr("DAT_MT_EURUSD_M1_202511.txt", "HistData.com (c) 2025\nGap of 172800s")
    path = tmp_path / "HISTDATA_COM_MT_EURUSD_M1202511.zip"
    path.write_bytes(buffer.getvalue())
    bars = read(path)
    assert bars.attrs["file_format"] == "histdata-mt"
    pd.testing.assert_frame_equal(bars[["timestamp", *PRICES]], canonical()[["timestamp", *PRICES]])
    assert "EST without daylight saving" in notes(bars)
    # The same rows under another name are a MetaTrader 4 export (server time, UTC assumed).
    other = tmp_path / "EURUSD60.csv"
    other.write_bytes((FORMATS / "DAT_MT_EURUSD_H1_202511.csv").read_bytes())
    assert read(other).attrs["file_format"] == "metatrader4"
    assert read(other, file_format="histdata-mt")["timestamp"].iloc[0] == utc("2025-10-31 12:00")
