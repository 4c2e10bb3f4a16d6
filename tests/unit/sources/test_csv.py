"""The CSV/Parquet file source: the real BTC export, each option, and loud failures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers import BTC_CSV, require_file
from volcast.errors import ConfigError, ParseError, SourceError
from volcast.schemas import BAR_COLUMNS
from volcast.sources.csv import CsvSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "csv"


def fetch(path: Path, **options: Any) -> pd.DataFrame:
    return CsvSource(path=path, **options).fetch(symbol="EUR/USD", interval="1h")


def line_of(path: Path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def assert_bar_frame(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(BAR_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["timestamp"].is_monotonic_increasing


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """The BTC export read with no options, as the acceptance command does."""
    path = require_file(BTC_CSV)
    return CsvSource(path=path).fetch(symbol="BTC/USD", interval="1h")


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    """The BTC export's data rows as text (banner and header dropped), newest first."""
    lines = require_file(BTC_CSV).read_text().splitlines()
    return list(csv.reader(lines[2:]))


class TestBtcExport:
    """The messy real file of the acceptance command, read with no options."""

    def test_every_row_is_read_ascending_unique_utc(
        self, bars: pd.DataFrame, rows: list[list[str]]
    ) -> None:
        assert_bar_frame(bars)
        assert len(bars) == len(rows) > 19_000
        assert bars["timestamp"].is_unique
        for column in BAR_COLUMNS[1:]:
            assert bars[column].dtype == np.float64

    @pytest.mark.parametrize(("position", "row_index"), [(0, -1), (-1, 0)])
    def test_first_and_last_bars_match_the_file(
        self, bars: pd.DataFrame, rows: list[list[str]], position: int, row_index: int
    ) -> None:
        # The file is newest first: its last line is our first bar and vice versa.
        date, _symbol, open_, high, low, close, _volume_btc, volume = rows[row_index]
        expected_time = datetime.strptime(date, "%Y-%m-%d %I-%p").replace(tzinfo=UTC)
        bar = bars.iloc[position]
        assert bar["timestamp"] == pd.Timestamp(expected_time)
        assert [bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]] == [
            float(open_),
            float(high),
            float(low),
            float(close),
            float(volume),
        ]

    def test_pm_hours_are_twelve_hour_clock(self, bars: pd.DataFrame) -> None:
        hours = bars["timestamp"].dt.hour
        assert set(hours) == set(range(24))


class TestOptions:
    def test_standard_contract_file(self) -> None:
        bars = fetch(FIXTURES / "standard.csv")
        assert_bar_frame(bars)
        assert len(bars) == 6
        assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-02T00:00:00Z")
        assert bars["close"].tolist()[:2] == [1.1005, 1.1015]
        assert bars["volume"].tolist()[0] == 120.0

    def test_timestamp_column_and_format_options(self) -> None:
        bars = fetch(
            FIXTURES / "custom_format.csv",
            timestamp_column="when",
            timestamp_format="%d/%m/%Y %H:%M",
        )
        assert_bar_frame(bars)
        # Day-first per the given format: 2 January, not 1 February.
        assert bars["timestamp"].tolist() == list(
            pd.date_range("2024-01-02 13:00", periods=3, freq="h", tz="UTC")
        )
        assert bars["volume"].isna().all()

    def test_format_option_changes_the_reading(self) -> None:
        guessed = fetch(FIXTURES / "custom_format.csv", timestamp_column="When")
        given = fetch(
            FIXTURES / "custom_format.csv",
            timestamp_column="When",
            timestamp_format="%d/%m/%Y %H:%M",
        )
        assert guessed["timestamp"].iloc[0].month == 2
        assert given["timestamp"].iloc[0].month == 1

    def test_skip_rows_option(self) -> None:
        path = FIXTURES / "banner_trap.csv"
        # The first line looks like a header, so only skip_rows finds the real one.
        with pytest.raises(ParseError) as info:
            fetch(path)
        assert info.value.failed_checks == ["required_columns"]
        bars = fetch(path, skip_rows=1, timestamp_column="bar_start")
        assert len(bars) == 3
        assert bars["timestamp"].iloc[-1] == pd.Timestamp("2024-01-02T02:00:00Z")
        assert bars["volume"].tolist() == [120.0, 98.0, 143.0]

    def test_epoch_milliseconds_and_missing_volume(self) -> None:
        bars = fetch(FIXTURES / "epoch_ms_no_volume.csv")
        assert_bar_frame(bars)
        assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-02T00:00:00Z")
        assert bars["volume"].dtype == np.float64
        assert bars["volume"].isna().all()

    def test_separate_date_and_time_columns_are_joined(self) -> None:
        bars = fetch(FIXTURES / "date_time_columns.csv")
        assert bars["timestamp"].tolist() == list(
            pd.date_range("2024-01-02", periods=3, freq="h", tz="UTC")
        )
        assert bars["open"].iloc[1] == 1.1005

    def test_naive_and_offset_timestamps_become_utc(self, tmp_path: Path) -> None:
        path = tmp_path / "offsets.csv"
        path.write_text(
            "Datetime,open,high,low,close\n"
            "2024-01-02 10:00:00,1,2,0.5,1.5\n"
            "2024-01-02 13:00:00+02:00,1,2,0.5,1.5\n"
        )
        bars = fetch(path)
        assert bars["timestamp"].tolist() == [
            pd.Timestamp("2024-01-02T10:00:00Z"),
            pd.Timestamp("2024-01-02T11:00:00Z"),
        ]

    def test_since_keeps_only_later_bars(self) -> None:
        source = CsvSource(path=FIXTURES / "standard.csv")
        cutoff = pd.Timestamp("2024-01-02T02:00:00Z")
        bars = source.fetch(symbol="EUR/USD", interval="1h", since=cutoff)
        assert bars["timestamp"].min() == pd.Timestamp("2024-01-02T03:00:00Z")
        assert len(bars) == 3
        naive = source.fetch(symbol="EUR/USD", interval="1h", since=cutoff.tz_localize(None))
        pd.testing.assert_frame_equal(naive, bars)

    def test_on_raw_gets_the_untouched_file_once(self) -> None:
        path = FIXTURES / "standard.csv"
        calls: list[tuple[bytes, str]] = []
        CsvSource(path=path).fetch(
            symbol="EUR/USD", interval="1h", on_raw=lambda data, ext: calls.append((data, ext))
        )
        assert calls == [(path.read_bytes(), "csv")]

    def test_on_raw_runs_before_parsing(self) -> None:
        path = FIXTURES / "truncated.csv"
        calls: list[bytes] = []
        with pytest.raises(ParseError):
            CsvSource(path=path).fetch(
                symbol="EUR/USD", interval="1h", on_raw=lambda data, ext: calls.append(data)
            )
        assert calls == [path.read_bytes()]


class TestBadInput:
    def test_truncated_last_line(self) -> None:
        path = FIXTURES / "truncated.csv"
        with pytest.raises(ParseError) as info:
            fetch(path)
        error = info.value
        assert error.failed_checks == ["parse"]
        line = line_of(path, "03:00:00Z")
        assert error.context["line"] == line
        assert f"line {line}" in str(error)
        assert str(path) in str(error)
        assert "truncated" in str(error)

    def test_row_with_extra_field_in_the_middle(self) -> None:
        path = FIXTURES / "malformed_row.csv"
        with pytest.raises(ParseError) as info:
            fetch(path)
        assert info.value.failed_checks == ["parse"]
        assert info.value.context["line"] == line_of(path, "98,17")

    def test_truncated_quoted_file(self) -> None:
        path = FIXTURES / "quoted_truncated.csv"
        with pytest.raises(ParseError) as info:
            fetch(path)
        assert info.value.failed_checks == ["parse"]
        assert info.value.context["line"] == line_of(path, "02:00:00Z")

    def test_truncated_crlf_file(self, tmp_path: Path) -> None:
        path = tmp_path / "crlf.csv"
        text = (FIXTURES / "standard.csv").read_text().replace("\n", "\r\n")
        path.write_bytes(text[: text.index("1.0985,1.1000")].encode())
        with pytest.raises(ParseError) as info:
            fetch(path)
        assert info.value.context["line"] == 6

    def test_unparseable_timestamp(self) -> None:
        path = FIXTURES / "bad_timestamp.csv"
        with pytest.raises(ParseError) as info:
            fetch(path)
        error = info.value
        assert error.failed_checks == ["timestamp_parse"]
        assert error.context["line"] == line_of(path, "yesterday")
        assert "yesterday at noon" in str(error)
        assert str(path) in str(error)

    def test_timestamp_not_matching_given_format(self) -> None:
        path = FIXTURES / "standard.csv"
        with pytest.raises(ParseError) as info:
            fetch(path, timestamp_format="%d/%m/%Y %H:%M")
        assert info.value.failed_checks == ["timestamp_parse"]
        assert info.value.context["line"] == 2

    def test_missing_required_column(self) -> None:
        path = FIXTURES / "missing_column.csv"
        with pytest.raises(ParseError) as info:
            fetch(path)
        error = info.value
        assert error.failed_checks == ["required_columns"]
        assert error.context["column"] == "low"
        assert error.context["line"] == 1
        assert "'low'" in str(error)

    def test_missing_named_timestamp_column(self) -> None:
        with pytest.raises(ParseError) as info:
            fetch(FIXTURES / "standard.csv", timestamp_column="bar_time")
        assert info.value.failed_checks == ["required_columns"]
        assert info.value.context["column"] == "bar_time"

    def test_non_numeric_price_stays_strings(self) -> None:
        bars = fetch(FIXTURES / "non_numeric.csv")
        assert bars["close"].dtype == object
        assert bars["close"].iloc[1] == "1.1015x"
        # The empty cell stays missing rather than becoming a string.
        assert pd.isna(bars["close"].iloc[2])
        assert bars["open"].dtype == np.float64
        assert len(bars) == 3

    def test_empty_values_stay_nan(self, tmp_path: Path) -> None:
        path = tmp_path / "gaps.csv"
        path.write_text(
            "timestamp,open,high,low,close,volume\n"
            "2024-01-02T00:00:00Z,1,2,0.5,,\n"
            "2024-01-02T01:00:00Z,1,2,0.5,1.5,10\n"
        )
        bars = fetch(path)
        assert bars["close"].dtype == np.float64
        assert bars["close"].isna().tolist() == [True, False]
        assert bars["volume"].isna().tolist() == [True, False]

    def test_missing_file_is_a_source_error(self, tmp_path: Path) -> None:
        with pytest.raises(SourceError) as info:
            fetch(tmp_path / "nope.csv")
        assert info.value.provider == "csv"

    def test_negative_skip_rows_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            fetch(FIXTURES / "standard.csv", skip_rows=-1)


class TestParquet:
    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return pd.read_csv(FIXTURES / "standard.csv").iloc[::-1]

    def test_tz_aware_column(self, tmp_path: Path, frame: pd.DataFrame) -> None:
        frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))
        path = tmp_path / "bars.parquet"
        frame.to_parquet(path)
        calls: list[tuple[bytes, str]] = []
        bars = CsvSource(path=path).fetch(
            symbol="EUR/USD", interval="1h", on_raw=lambda data, ext: calls.append((data, ext))
        )
        assert calls == [(path.read_bytes(), "parquet")]
        assert_bar_frame(bars)
        expected = fetch(FIXTURES / "standard.csv")
        pd.testing.assert_frame_equal(bars, expected)

    def test_naive_datetime_index_and_capitalised_names(
        self, tmp_path: Path, frame: pd.DataFrame
    ) -> None:
        frame = frame.set_index(pd.to_datetime(frame.pop("timestamp")).dt.tz_localize(None))
        frame.columns = [c.capitalize() for c in frame.columns]
        path = tmp_path / "bars.parquet"
        frame.to_parquet(path)
        bars = CsvSource(path=path).fetch(symbol="EUR/USD", interval="1h")
        pd.testing.assert_frame_equal(bars, fetch(FIXTURES / "standard.csv"))

    def test_string_timestamps_with_format(self, tmp_path: Path, frame: pd.DataFrame) -> None:
        stamps = pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%d %I-%p")
        path = tmp_path / "bars.parquet"
        frame.assign(timestamp=stamps).to_parquet(path)
        bars = CsvSource(path=path).fetch(symbol="EUR/USD", interval="1h")
        assert bars["timestamp"].tolist() == fetch(FIXTURES / "standard.csv")["timestamp"].tolist()

    def test_unparseable_timestamp_names_the_row(self, tmp_path: Path, frame: pd.DataFrame) -> None:
        frame = frame.reset_index(drop=True)
        frame.loc[2, "timestamp"] = "not a time"
        path = tmp_path / "bars.parquet"
        frame.to_parquet(path)
        with pytest.raises(ParseError) as info:
            CsvSource(path=path).fetch(symbol="EUR/USD", interval="1h")
        assert info.value.failed_checks == ["timestamp_parse"]
        assert info.value.context["line"] == 3
        assert "row 3" in str(info.value)

    def test_corrupt_parquet(self, tmp_path: Path) -> None:
        path = tmp_path / "bars.parquet"
        buffer = io.BytesIO()
        pd.read_csv(FIXTURES / "standard.csv").to_parquet(buffer)
        path.write_bytes(buffer.getvalue()[:-40])
        with pytest.raises(ParseError) as info:
            CsvSource(path=path).fetch(symbol="EUR/USD", interval="1h")
        assert info.value.failed_checks == ["parse"]


def test_header_only_file_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(ParseError, match="no data rows") as info:
        CsvSource(path=path).fetch(symbol="X", interval="1h")
    assert info.value.failed_checks == ["parse"]


def test_timestamp_column_that_is_a_price_column_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n")
    with pytest.raises(ConfigError, match="also the close column"):
        CsvSource(path=path, timestamp_column="close").fetch(symbol="X", interval="1h")
