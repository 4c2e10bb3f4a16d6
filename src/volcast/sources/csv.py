"""File source: OHLC bars from a CSV or Parquet file (SPEC capability 1).

The documented contract is a file with the columns ``timestamp,open,high,low,close[,volume]``
and ISO-8601 UTC timestamps. Real exports are messier, so without options the reader also:

* finds the header line itself (the first of the first 100 lines naming open, high, low and
  close), so banner lines above it need no ``skip_rows``;
* matches column names case-insensitively and accepts common timestamp column names
  (``timestamp``, ``datetime``, ``date``, ``time``, ``open_time``, ...; a separate ``date`` and
  ``time`` pair is joined);
* recognises ISO-8601, epoch seconds/milliseconds/microseconds/nanoseconds and the common
  export formats listed in :data:`volcast.sources.csv_parse.KNOWN_TIMESTAMP_FORMATS`
  (``2019-10-17 09-AM`` among them);
* sorts the bars ascending (some exports are newest first).

Naive timestamps are UTC. The source never shortens or coerces the data silently: a row with
the wrong number of fields (a truncated last line, a stray delimiter) or a timestamp that does
not parse raises :class:`volcast.errors.ParseError` naming the file, the line and the check; a
missing column raises one with ``failed_checks=["required_columns"]``. Duplicate timestamps and
empty values are kept as they are for the quality gate to judge.

This module holds :class:`CsvSource` (reading, column selection, conversion to bars); header
detection and row-width checks live in :mod:`volcast.sources.csv_layout`, timestamp and
number parsing in :mod:`volcast.sources.csv_parse`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError, SourceError
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS, TIMESTAMP
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.csv_layout import check_field_counts, find_header
from volcast.sources.csv_parse import numeric_or_strings, parse_timestamps

TIMESTAMP_ALIASES: Final = (
    "timestamp",
    "datetime",
    "date_time",
    "timestamp_utc",
    "time_utc",
    "datetime_utc",
    "date",
    "time",
    "ts",
    "open_time",
    "opentime",
    "unix",
    "gmt time",
)
"""Timestamp column names tried in order (case-insensitive) when none is given."""

_VOLUME: Final = "volume"


class CsvSource:
    """Bars read from a ``.csv`` file, or a ``.parquet`` file (chosen by extension).

    ``timestamp_column`` names the time column when it is not one of
    :data:`TIMESTAMP_ALIASES`; ``timestamp_format`` is a ``strptime`` format (or pandas'
    ``"ISO8601"``/``"mixed"``) applied to every value; ``skip_rows`` is the number of lines
    above the header (auto-detected when None; CSV only). ``symbol`` and ``interval`` given to
    :meth:`fetch` do not filter anything: a file holds one series.

    A price or volume column with a value that is not a number is returned as strings
    (object dtype) rather than coerced to NaN, so the quality gate's schema check names the
    column; empty cells stay NaN for the gate's null-ratio check. A missing volume column
    becomes a NaN column.
    """

    name = "csv"
    live = False

    def __init__(
        self,
        *,
        path: Path,
        timestamp_column: str | None = None,
        timestamp_format: str | None = None,
        skip_rows: int | None = None,
    ) -> None:
        self.path = path
        self.timestamp_column = timestamp_column
        self.timestamp_format = timestamp_format
        self.skip_rows = skip_rows

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Every bar of the file strictly after ``since``, ascending, as BAR_COLUMNS.

        ``on_raw`` receives the file's bytes untouched (extension ``csv`` or ``parquet``)
        before anything is parsed. Rows whose timestamp is empty are kept (NaT) even when
        ``since`` is given, so the quality gate sees them.
        """
        path = Path(self.path)
        is_parquet = path.suffix.lower() in (".parquet", ".pq")
        if self.skip_rows is not None and self.skip_rows < 0:
            raise ConfigError(f"skip_rows must be >= 0, got {self.skip_rows}")
        if is_parquet and self.skip_rows:
            raise ConfigError("skip_rows applies to CSV files only, not Parquet")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"cannot read {path}: {exc.strerror or exc}",
                provider=self.name,
                symbol=symbol,
                path=str(path),
            ) from exc
        on_raw(data, "parquet" if is_parquet else "csv")

        if is_parquet:
            frame, line_numbers = self._read_parquet(data, path, symbol)
            where = "row"
        else:
            frame, line_numbers = self._read_csv(data, path, symbol)
            where = "line"
        bars = self._to_bars(frame, line_numbers, path=path, symbol=symbol, where=where)
        if since is not None:
            cutoff = since.tz_localize("UTC") if since.tzinfo is None else since.tz_convert("UTC")
            stamps = bars[TIMESTAMP]
            bars = bars.loc[stamps.isna() | (stamps > cutoff)]
        return bars.reset_index(drop=True)

    # -- reading -------------------------------------------------------------------------

    def _read_csv(
        self, data: bytes, path: Path, symbol: str
    ) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
        """The raw columns as read (timestamp as strings) and each row's 1-based file line."""
        header_index, delimiter, header = find_header(
            data, skip_rows=self.skip_rows, path=path, symbol=symbol, source=self.name
        )
        columns = self._select_columns(header, path=path, symbol=symbol, line=header_index + 1)
        line_numbers = check_field_counts(
            data,
            header_index=header_index,
            delimiter=delimiter,
            n_fields=len(header),
            path=path,
            symbol=symbol,
        )
        wanted = [c for c in columns.values() if c is not None]
        time_columns = [columns[TIMESTAMP], columns.get("_time")]
        try:
            frame = pd.read_csv(
                io.BytesIO(data),
                sep=delimiter,
                skiprows=header_index,
                header=0,
                usecols=lambda c: str(c).strip() in wanted,
                dtype={c: str for c in time_columns if c is not None},
                skipinitialspace=True,
                low_memory=False,
                encoding="utf-8-sig",
            )
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ParseError(
                f"{path}: cannot parse CSV: {exc}",
                failed_checks=["parse"],
                path=str(path),
                symbol=symbol,
                source=self.name,
            ) from exc
        if frame.empty:
            raise ParseError(
                f"{path}: the file has a header (line {header_index + 1}) but no data rows",
                failed_checks=["parse"],
                path=str(path),
                symbol=symbol,
                source=self.name,
            )
        frame.columns = [str(c).strip() for c in frame.columns]
        frame = frame.rename(columns={v: k for k, v in columns.items() if v is not None})
        if len(line_numbers) != len(frame):
            # Quoted fields spanning lines or blank-line handling differ; fall back to rows.
            line_numbers = np.arange(len(frame), dtype=np.int64) + header_index + 2
        return frame, line_numbers

    def _read_parquet(
        self, data: bytes, path: Path, symbol: str
    ) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
        """The Parquet table's columns and each row's 1-based row number."""
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many unrelated types for a bad file
            raise ParseError(
                f"{path}: cannot read Parquet: {exc}",
                failed_checks=["parse"],
                path=str(path),
                symbol=symbol,
                source=self.name,
            ) from exc
        if isinstance(frame.index, pd.DatetimeIndex):
            index_name = frame.index.name or TIMESTAMP
            frame = frame.reset_index(names=str(index_name))
        else:
            frame = frame.reset_index(drop=True)
        header = [str(c) for c in frame.columns]
        frame.columns = pd.Index(header)
        columns = self._select_columns(header, path=path, symbol=symbol, line=None)
        frame = frame[[c for c in columns.values() if c is not None]]
        frame = frame.rename(columns={v: k for k, v in columns.items() if v is not None})
        return frame, np.arange(1, len(frame) + 1, dtype=np.int64)

    def _select_columns(
        self, header: Sequence[str], *, path: Path, symbol: str, line: int | None
    ) -> dict[str, str | None]:
        """Map bar column names (and ``_time`` for a separate time column) to file columns."""
        by_lower: dict[str, str] = {}
        for name in header:
            by_lower.setdefault(name.strip().lower(), name.strip())
        where = f" (header on line {line})" if line is not None else ""

        def missing(column: str, detail: str) -> ParseError:
            return ParseError(
                f"{path}: required column {column!r} is missing{where}; {detail}",
                failed_checks=["required_columns"],
                path=str(path),
                symbol=symbol,
                source=self.name,
                column=column,
                line=line,
            )

        columns: dict[str, str | None] = {}
        if self.timestamp_column is not None:
            wanted = self.timestamp_column.strip()
            found = wanted if wanted in header else by_lower.get(wanted.lower())
            if found is None:
                raise missing(wanted, f"the file has {list(header)}")
            columns[TIMESTAMP] = found
        else:
            alias = next((a for a in TIMESTAMP_ALIASES if a in by_lower), None)
            if alias is None:
                raise missing(
                    TIMESTAMP,
                    f"the file has {list(header)}; name the time column with timestamp_column",
                )
            columns[TIMESTAMP] = by_lower[alias]
            if alias == "date" and "time" in by_lower and self.timestamp_format is None:
                columns["_time"] = by_lower["time"]
        for price in PRICE_COLUMNS:
            if price not in by_lower:
                raise missing(price, f"the file has {list(header)}")
            columns[price] = by_lower[price]
        columns[_VOLUME] = by_lower.get(_VOLUME)
        for name, mapped in columns.items():
            if name != TIMESTAMP and mapped is not None and mapped == columns[TIMESTAMP]:
                raise ConfigError(
                    f"{path}: timestamp column {mapped!r} is also the {name} column; "
                    "name the time column with --timestamp-column",
                    path=str(path),
                    symbol=symbol,
                )
        return columns

    # -- conversion ----------------------------------------------------------------------

    def _to_bars(
        self,
        frame: pd.DataFrame,
        line_numbers: npt.NDArray[np.int64],
        *,
        path: Path,
        symbol: str,
        where: str,
    ) -> pd.DataFrame:
        raw_time = frame[TIMESTAMP]
        if "_time" in frame.columns:
            raw_time = raw_time.str.strip() + " " + frame["_time"].str.strip()
        stamps = parse_timestamps(
            raw_time,
            line_numbers,
            path=path,
            symbol=symbol,
            where=where,
            timestamp_format=self.timestamp_format,
            source=self.name,
        )
        out = pd.DataFrame({TIMESTAMP: stamps})
        for column in (*PRICE_COLUMNS, _VOLUME):
            if column in frame.columns:
                out[column] = numeric_or_strings(frame[column])
            else:
                out[column] = np.nan
        # Stable, so equal timestamps keep file order; the gate reports duplicates.
        out = out.sort_values(TIMESTAMP, kind="stable", na_position="last", ignore_index=True)
        return out[list(BAR_COLUMNS)]
