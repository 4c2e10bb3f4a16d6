"""File source: OHLC bars from a CSV or Parquet file (SPEC capability 1).

The documented contract is a file with the columns ``timestamp,open,high,low,close[,volume]``
and ISO-8601 UTC timestamps. Real exports are messier, so without options the reader also:

* finds the header line itself (the first of the first 100 lines naming open, high, low and
  close), so banner lines above it need no ``skip_rows``;
* matches column names case-insensitively and accepts common timestamp column names
  (``timestamp``, ``datetime``, ``date``, ``time``, ``open_time``, ...; a separate ``date`` and
  ``time`` pair is joined);
* recognises ISO-8601, epoch seconds/milliseconds/microseconds/nanoseconds and the common
  export formats listed in :data:`KNOWN_TIMESTAMP_FORMATS` (``2019-10-17 09-AM`` among them);
* sorts the bars ascending (some exports are newest first).

Naive timestamps are UTC. The source never shortens or coerces the data silently: a row with
the wrong number of fields (a truncated last line, a stray delimiter) or a timestamp that does
not parse raises :class:`volcast.errors.ParseError` naming the file, the line and the check; a
missing column raises one with ``failed_checks=["required_columns"]``. Duplicate timestamps and
empty values are kept as they are for the quality gate to judge.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError, SourceError
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS, TIMESTAMP
from volcast.sources.base import RawSink, discard_raw

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

KNOWN_TIMESTAMP_FORMATS: Final = (
    "%Y-%m-%d %I-%p",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d %H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%d.%m.%Y %H:%M:%S.%f",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y%m%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
)
"""Formats tried after ISO-8601 when no ``timestamp_format`` is given (month-first wins ties)."""

_HEADER_SCAN_LINES: Final = 100
_FORMAT_SAMPLE: Final = 500
_DELIMITERS: Final = (",", ";", "\t", "|")
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
        header_index, delimiter, header = self._find_header(data, path, symbol)
        columns = self._select_columns(header, path=path, symbol=symbol, line=header_index + 1)
        line_numbers = _check_field_counts(
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

    def _find_header(self, data: bytes, path: Path, symbol: str) -> tuple[int, str, list[str]]:
        """0-based index of the header line, its delimiter and its column names."""
        head = data[: 1 << 20].decode("utf-8-sig", errors="replace").split("\n")
        if self.skip_rows is not None:
            if self.skip_rows >= len(head):
                raise ParseError(
                    f"{path}: skip_rows={self.skip_rows} skips past the end of the file "
                    f"({len(head)} lines)",
                    failed_checks=["required_columns"],
                    path=str(path),
                    symbol=symbol,
                    source=self.name,
                )
            line = head[self.skip_rows]
            delimiter = max(_DELIMITERS, key=lambda d: len(_split(line, d)))
            return self.skip_rows, delimiter, _split(line, delimiter)

        best: tuple[int, int, list[str]] = (-1, 0, [])
        for index, line in enumerate(head[:_HEADER_SCAN_LINES]):
            for delimiter in _DELIMITERS:
                fields = _split(line, delimiter)
                found = {f.lower() for f in fields} & set(PRICE_COLUMNS)
                if len(found) == len(PRICE_COLUMNS):
                    return index, delimiter, fields
                if len(found) > best[0]:
                    best = (len(found), index, fields)
        n_found, index, fields = best
        missing = [c for c in PRICE_COLUMNS if c not in {f.lower() for f in fields}]
        where = (
            f"the closest header is line {index + 1}: {fields}"
            if n_found > 0
            else f"no header line in the first {_HEADER_SCAN_LINES} lines names them"
        )
        raise ParseError(
            f"{path}: required column(s) {', '.join(repr(c) for c in missing)} missing; "
            f"{where} (pass skip_rows if the header is further down)",
            failed_checks=["required_columns"],
            path=str(path),
            symbol=symbol,
            source=self.name,
            column=missing[0],
            line=index + 1 if n_found > 0 else None,
        )

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
        stamps = self._parse_timestamps(
            raw_time, line_numbers, path=path, symbol=symbol, where=where
        )
        out = pd.DataFrame({TIMESTAMP: stamps})
        for column in (*PRICE_COLUMNS, _VOLUME):
            if column in frame.columns:
                out[column] = _numeric_or_strings(frame[column])
            else:
                out[column] = np.nan
        # Stable, so equal timestamps keep file order; the gate reports duplicates.
        out = out.sort_values(TIMESTAMP, kind="stable", na_position="last", ignore_index=True)
        return out[list(BAR_COLUMNS)]

    def _parse_timestamps(
        self,
        raw: pd.Series,
        line_numbers: npt.NDArray[np.int64],
        *,
        path: Path,
        symbol: str,
        where: str,
    ) -> pd.Series:
        """The column as ``datetime64[ns, UTC]``; ParseError at the first value that fails."""
        if isinstance(raw.dtype, pd.DatetimeTZDtype):
            converted: pd.Series = raw.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
            return converted
        if pd.api.types.is_datetime64_dtype(raw.dtype):
            localized: pd.Series = raw.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
            return localized
        if _is_numeric(raw):
            values, present = raw, raw.notna()
        else:
            values = raw
            present = raw.notna() & (raw != "")
        fmt = self.timestamp_format
        if fmt is not None:
            try:
                stamps = pd.to_datetime(values, format=fmt, utc=True, errors="coerce")
            except ValueError as exc:
                raise ConfigError(f"invalid timestamp_format {fmt!r}: {exc}") from exc
        else:
            stamps, fmt = _infer_timestamps(values, present)
        failed = present.to_numpy() & stamps.isna().to_numpy()
        if failed.any():
            first = int(np.flatnonzero(failed)[0])
            line = int(line_numbers[first])
            hint = "" if self.timestamp_format else "; pass timestamp_format"
            raise ParseError(
                f"{path}: {where} {line}: timestamp {values.iloc[first]!r} does not parse as "
                f"{fmt} ({int(failed.sum())} value(s) fail){hint}",
                failed_checks=["timestamp_parse"],
                path=str(path),
                symbol=symbol,
                source=self.name,
                line=line,
            )
        return stamps.astype("datetime64[ns, UTC]")


def _split(line: str, delimiter: str) -> list[str]:
    return [f.strip().strip('"').strip() for f in line.split(delimiter)]


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _numeric_or_strings(series: pd.Series) -> pd.Series:
    """float64 when every non-empty value is a number, else the values as strings (object)."""
    if _is_numeric(series):
        return series.astype("float64")
    numbers = pd.to_numeric(series, errors="coerce")
    if bool((numbers.isna() & series.notna()).any()):
        return series.astype(object).where(series.notna(), np.nan)
    return numbers.astype("float64")


def _infer_timestamps(values: pd.Series, present: pd.Series) -> tuple[pd.Series, str]:
    """Parse with the first of epoch, ISO-8601 and KNOWN_TIMESTAMP_FORMATS that fits a sample."""
    valid = values[present]
    if valid.empty:
        return pd.to_datetime(values, utc=True, errors="coerce"), "ISO8601"
    step = max(1, len(valid) // _FORMAT_SAMPLE)
    sample = valid.iloc[::step]
    numbers = pd.to_numeric(sample, errors="coerce")
    is_yyyymmdd = bool(sample.astype(str).str.fullmatch(r"(19|20)\d{6}").all())
    if bool(numbers.notna().all()) and not is_yyyymmdd:
        full = pd.to_numeric(values, errors="coerce")
        magnitude = float(np.nanmax(np.abs(full.to_numpy(dtype="float64"))))
        unit: Literal["s", "ms", "us", "ns"] = "s"
        for bound, larger in ((1e11, "ms"), (1e14, "us"), (1e17, "ns")):
            if magnitude >= bound:
                unit = cast(Literal["s", "ms", "us", "ns"], larger)
        return pd.to_datetime(full, unit=unit, utc=True, errors="coerce"), f"epoch {unit}"
    best_fmt, best_ok = "ISO8601", -1
    for fmt in ("ISO8601", *KNOWN_TIMESTAMP_FORMATS):
        ok = int(pd.to_datetime(sample, format=fmt, utc=True, errors="coerce").notna().sum())
        if ok == len(sample):
            best_fmt, best_ok = fmt, ok
            break
        if ok > best_ok:
            best_fmt, best_ok = fmt, ok
    if best_ok <= 0:
        best_fmt = "ISO8601 or a known format"
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]"), best_fmt
    return pd.to_datetime(values, format=best_fmt, utc=True, errors="coerce"), best_fmt


def _check_field_counts(
    data: bytes,
    *,
    header_index: int,
    delimiter: str,
    n_fields: int,
    path: Path,
    symbol: str,
) -> npt.NDArray[np.int64]:
    """1-based line numbers of the data rows; ParseError at the first row of the wrong width.

    Counting delimiters per line with numpy keeps this linear and fast; files with quoted
    fields go through the csv module, which understands quotes.
    """
    if b'"' in data:
        return _check_field_counts_quoted(
            data,
            header_index=header_index,
            delimiter=delimiter,
            n_fields=n_fields,
            path=path,
            symbol=symbol,
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    # Carriage returns of CRLF files do not count as content.
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == ord("\r"))
    lengths = ends - starts - has_cr
    delimiters = np.flatnonzero(buf == ord(delimiter))
    counts = np.searchsorted(delimiters, ends) - np.searchsorted(delimiters, starts) + 1
    index = np.arange(len(starts))
    data_rows = (index > header_index) & (lengths > 0)
    bad = data_rows & (counts != n_fields)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        _raise_width(
            path=path,
            symbol=symbol,
            line=first + 1,
            found=int(counts[first]),
            n_fields=n_fields,
            n_bad=int(bad.sum()),
            is_last=first == int(np.flatnonzero(data_rows)[-1]),
        )
    lines: npt.NDArray[np.int64] = (index[data_rows] + 1).astype(np.int64)
    return lines


def _check_field_counts_quoted(
    data: bytes,
    *,
    header_index: int,
    delimiter: str,
    n_fields: int,
    path: Path,
    symbol: str,
) -> npt.NDArray[np.int64]:
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[int] = []
    bad: list[tuple[int, int]] = []
    start_line = 1
    for row in reader:
        line = start_line
        start_line = reader.line_num + 1
        if line <= header_index + 1 or not row:
            continue
        if len(row) != n_fields:
            bad.append((line, len(row)))
        lines.append(line)
    if bad:
        line, found = bad[0]
        _raise_width(
            path=path,
            symbol=symbol,
            line=line,
            found=found,
            n_fields=n_fields,
            n_bad=len(bad),
            is_last=line == lines[-1],
        )
    return np.asarray(lines, dtype=np.int64)


def _raise_width(
    *, path: Path, symbol: str, line: int, found: int, n_fields: int, n_bad: int, is_last: bool
) -> None:
    what = "truncated last line" if is_last and found < n_fields else "malformed row"
    raise ParseError(
        f"{path}: line {line}: {what}: expected {n_fields} fields, found {found} "
        f"({n_bad} row(s) of the wrong width)",
        failed_checks=["parse"],
        path=str(path),
        symbol=symbol,
        source="csv",
        line=line,
    )
