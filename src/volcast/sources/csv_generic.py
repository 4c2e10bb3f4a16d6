"""The generic reader: a CSV file with a header naming open, high, low and close.

For files that fit no vendor profile. :func:`select_columns` maps the bar columns to the
file's header (case-insensitively, ``<OPEN>`` as ``open``; the time column by
:data:`TIMESTAMP_ALIASES` or ``--timestamp-column``, which may name a date and a time column
as ``DATE,TIME``); :func:`read_generic` reads those columns with each row's file line.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError
from volcast.schemas import PRICE_COLUMNS, TIMESTAMP
from volcast.sources.csv_layout import check_field_counts, find_header

SOURCE: Final = "csv"

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


@dataclass(frozen=True)
class ColumnOptions:
    """The user's naming of the time column and its format (None: inferred)."""

    timestamp_column: str | None = None
    timestamp_format: str | None = None


def read_generic(
    data: bytes, options: ColumnOptions, *, skip_rows: int | None, path: Path, symbol: str
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """The raw columns as read (timestamp as strings) and each row's 1-based file line."""
    header_index, delimiter, header = find_header(
        data, skip_rows=skip_rows, path=path, symbol=symbol, source=SOURCE
    )
    columns = select_columns(header, options, path=path, symbol=symbol, line=header_index + 1)
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
            source=SOURCE,
        ) from exc
    if frame.empty:
        raise ParseError(
            f"{path}: the file has a header (line {header_index + 1}) but no data rows",
            failed_checks=["parse"],
            path=str(path),
            symbol=symbol,
            source=SOURCE,
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.rename(columns={v: k for k, v in columns.items() if v is not None})
    if len(line_numbers) != len(frame):
        # Quoted fields spanning lines or blank-line handling differ; fall back to rows.
        line_numbers = np.arange(len(frame), dtype=np.int64) + header_index + 2
    return frame, line_numbers


def select_columns(
    header: Sequence[str], options: ColumnOptions, *, path: Path, symbol: str, line: int | None
) -> dict[str, str | None]:
    """Map bar column names (and ``_time`` for a separate time column) to file columns."""
    by_lower: dict[str, str] = {}
    for name in header:
        by_lower.setdefault(_key(name), name.strip())
    where = f" (header on line {line})" if line is not None else ""

    def missing(column: str, detail: str) -> ParseError:
        return ParseError(
            f"{path}: required column {column!r} is missing{where}; {detail}",
            failed_checks=["required_columns"],
            path=str(path),
            symbol=symbol,
            source=SOURCE,
            column=column,
            line=line,
        )

    columns: dict[str, str | None] = {}
    if options.timestamp_column is not None:
        names = [n.strip() for n in options.timestamp_column.split(",")]
        if len(names) > 2 or not all(names):
            raise ConfigError(
                f"--timestamp-column {options.timestamp_column!r}: give one column, or a date "
                "and a time column as DATE,TIME"
            )
        for key, wanted in zip((TIMESTAMP, "_time"), names, strict=False):
            found = wanted if wanted in header else by_lower.get(_key(wanted))
            if found is None:
                raise missing(wanted, f"the file has {list(header)}")
            columns[key] = found
    else:
        alias = next((a for a in TIMESTAMP_ALIASES if a in by_lower), None)
        if alias is None:
            raise missing(
                TIMESTAMP,
                f"the file has {list(header)}; name the time column with timestamp_column",
            )
        columns[TIMESTAMP] = by_lower[alias]
        if alias == "date" and "time" in by_lower and options.timestamp_format is None:
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


def _key(name: str) -> str:
    """A header name as matched: no spaces, quotes or MetaTrader's angle brackets, lower case."""
    return name.strip().strip('"').strip().strip("<>").lower()
