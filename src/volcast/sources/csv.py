"""File source: OHLC bars from a CSV or Parquet file (SPEC capability 1).

The documented contract is a file with the columns ``timestamp,open,high,low,close[,volume]``
and ISO-8601 UTC timestamps. Real exports are messier. Without options the reader first
tries the vendor profiles of :mod:`volcast.sources.csv_profiles` (MetaTrader 4/5, HistData,
Dukascopy, Binance dumps, Yahoo, stooq, CryptoDataDownload): a file that fits one is read by
it, in its clock's time zone (``source_timezone`` overrides it), and what was assumed is said
in ``bars.attrs["source_notes"]``. Gzip and zip files are unpacked first, UTF-16 text is
read as such. A file that fits no
profile goes to the generic reader, which:

* finds the header line itself (the first of the first 100 lines naming open, high, low and
  close), so banner lines above it need no ``skip_rows``;
* matches column names case-insensitively (``<OPEN>`` is ``open``) and accepts common
  timestamp column names (``timestamp``, ``datetime``, ``date``, ``time``, ``open_time``, ...;
  a separate ``date`` and ``time`` pair is joined, as are two names given as ``Date,Time``);
* recognises ISO-8601, epoch seconds/milliseconds/microseconds/nanoseconds and the common
  export formats listed in :data:`volcast.sources.csv_parse.KNOWN_TIMESTAMP_FORMATS`
  (``2019-10-17 09-AM`` among them);
* sorts the bars ascending (some exports are newest first).

Naive timestamps are UTC unless ``source_timezone`` (or the profile) says otherwise; a bar at
a repeated DST hour that cannot be placed is dropped and said so in the notes
(:mod:`volcast.sources.csv_time`). Otherwise the source never shortens or coerces the data
silently: a row with the wrong number of fields (a truncated last line, a stray delimiter)
or a timestamp that does not parse raises :class:`volcast.errors.ParseError` naming the
file, the line, the check and the profile tried; a missing column raises one with
``failed_checks=["required_columns"]`` that also names the closest profile. Duplicate
timestamps and empty values are kept as they are for the quality gate to judge.

This module holds :class:`CsvSource` (reading, column selection, conversion to bars); header
detection and row-width checks live in :mod:`volcast.sources.csv_layout`, timestamp and
number parsing in :mod:`volcast.sources.csv_parse`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError, SourceError
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS, TIMESTAMP
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.csv_generic import (
    TIMESTAMP_ALIASES,
    ColumnOptions,
    read_generic,
    select_columns,
)
from volcast.sources.csv_parse import (
    EPOCH,
    is_numeric,
    looks_epoch,
    numeric_or_strings,
    parse_timestamps,
)
from volcast.sources.csv_profiles import BY_NAME, Profile, join_time
from volcast.sources.csv_time import (
    UTC_ZONE,
    Zone,
    has_offsets,
    localize,
    parse_zone,
    repeated_hour_hint,
)
from volcast.sources.csv_vendor import (
    choose_profile,
    closest_hint,
    head_lines,
    pick_volume,
    read_profile,
    transcode,
    unpack,
)

_VOLUME: Final = "volume"

__all__ = ["TIMESTAMP_ALIASES", "CsvSource"]


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
        source_timezone: str | None = None,
        file_format: str | None = None,
    ) -> None:
        self.path = path
        self.timestamp_column = timestamp_column
        self.timestamp_format = timestamp_format
        self.skip_rows = skip_rows
        self.zone = parse_zone(source_timezone) if source_timezone else None
        if file_format is not None and file_format not in BY_NAME:
            raise ConfigError(
                f"unknown --file-format {file_format!r}; choose one of {', '.join(BY_NAME)}"
            )
        self.file_format = file_format
        self._columns = ColumnOptions(timestamp_column, timestamp_format)

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Every bar of the file strictly after ``since``, ascending, as BAR_COLUMNS.

        ``on_raw`` receives the file's bytes untouched (extension ``csv``, ``csv.gz``, ``zip``
        or ``parquet``) before anything is parsed. Rows whose timestamp is empty are kept (NaT)
        even when ``since`` is given, so the quality gate sees them. ``bars.attrs`` holds
        ``file_format``, ``volume_kind`` and ``source_notes`` (what was detected or assumed).
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
        if is_parquet:
            on_raw(data, "parquet")
            frame, line_numbers = self._read_parquet(data, path, symbol)
            reading = _Reading(frame, line_numbers, "row", "parquet", self.timestamp_format)
        else:
            text, ext, name = unpack(data, path=path, symbol=symbol, source=self.name)
            on_raw(data, ext)
            text, encoding = transcode(text, path=path, symbol=symbol, source=self.name)
            reading = self._read_text(text, path, symbol, name)
            if encoding is not None:
                reading.notes.append(f"encoding: {encoding} text, read as such")
        bars = self._to_bars(reading, path=path, symbol=symbol)
        if since is not None:
            cutoff = since.tz_localize("UTC") if since.tzinfo is None else since.tz_convert("UTC")
            stamps = bars[TIMESTAMP]
            bars = bars.loc[stamps.isna() | (stamps > cutoff)]
        out = bars.reset_index(drop=True)
        out.attrs = dict(bars.attrs)
        return out

    # -- reading -------------------------------------------------------------------------

    def _read_text(self, data: bytes, path: Path, symbol: str, name: str) -> _Reading:
        """Read by the vendor profile the file fits, else by the generic reader."""
        lines = head_lines(data)
        explicit = self.timestamp_column is not None or self.skip_rows is not None
        match = None
        if not explicit or self.file_format is not None:
            match = choose_profile(
                lines,
                file_format=self.file_format,
                path=path,
                symbol=symbol,
                source=self.name,
                file_name=name,
            )
        if match is None:
            try:
                frame, line_numbers = read_generic(
                    data, self._columns, skip_rows=self.skip_rows, path=path, symbol=symbol
                )
            except ParseError as exc:
                if explicit or exc.failed_checks != ["required_columns"]:
                    raise
                closest, hint = closest_hint(lines, file_name=name)
                raise ParseError(
                    f"{exc.message}; no known layout fits either: {hint}",
                    failed_checks=exc.failed_checks,
                    **{**exc.context, "profile": closest},
                ) from exc
            note = "format: generic columns (timestamp, open, high, low, close[, volume])"
            return _Reading(
                frame, line_numbers, "line", "generic", self.timestamp_format, notes=[note]
            )
        profile = match.profile
        frame, line_numbers = read_profile(data, match, path=path, symbol=symbol, source=self.name)
        raw_time = join_time(frame, profile.time_fields(match.fields))
        volume, kind, volume_note = pick_volume(frame, profile)
        columns = {TIMESTAMP: raw_time, **{p: frame[p] for p in PRICE_COLUMNS}}
        if volume is not None:
            columns[_VOLUME] = volume
        how = "named with --file-format" if self.file_format else "detected"
        notes = [f"format: {profile.vendor} (profile {profile.name}, {how})", volume_note]
        return _Reading(
            pd.DataFrame(columns),
            line_numbers,
            "line",
            profile.name,
            self.timestamp_format or match.time_format,
            profile=profile,
            volume_kind=kind,
            notes=notes,
        )

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
        columns = select_columns(header, self._columns, path=path, symbol=symbol, line=None)
        frame = frame[[c for c in columns.values() if c is not None]]
        frame = frame.rename(columns={v: k for k, v in columns.items() if v is not None})
        return frame, np.arange(1, len(frame) + 1, dtype=np.int64)

    # -- conversion ----------------------------------------------------------------------

    def _to_bars(self, reading: _Reading, *, path: Path, symbol: str) -> pd.DataFrame:
        frame, line_numbers, where = reading.frame, reading.line_numbers, reading.where
        raw_time = frame[TIMESTAMP]
        if "_time" in frame.columns:
            raw_time = raw_time.str.strip() + " " + frame["_time"].str.strip()
        tried = f" (profile {reading.layout})" if reading.profile is not None else ""
        stamps = parse_timestamps(
            raw_time,
            line_numbers,
            path=path,
            symbol=symbol,
            where=where,
            timestamp_format=reading.time_format,
            source=self.name,
            tried=tried,
        )
        notes = list(reading.notes)
        keep = np.ones(len(frame), dtype=bool)
        profile = reading.profile
        zone = self.zone or (parse_zone(profile.timezone) if profile is not None else UTC_ZONE)
        naive_text = not isinstance(raw_time.dtype, pd.DatetimeTZDtype) and not (
            reading.time_format == EPOCH
            or is_numeric(raw_time)
            or (reading.time_format is None and looks_epoch(raw_time))
            or has_offsets(raw_time)
        )
        if naive_text and not zone.is_utc:
            stamps, keep, dst_notes = localize(
                stamps.dt.tz_localize(None),
                zone,
                line_numbers,
                path=path,
                symbol=symbol,
                source=self.name,
                where=where,
                descending_hint=profile is not None and profile.newest_first,
            )
            notes.extend(dst_notes)
        notes.insert(min(1, len(notes)), _zone_note(self.zone, zone, profile, naive_text))
        assumed = self.zone is None and (profile is None or not profile.timezone_stated)
        if naive_text and assumed and zone.is_utc:
            notes.extend(repeated_hour_hint(stamps.dt.tz_localize(None), line_numbers, where))
        out = pd.DataFrame({TIMESTAMP: stamps})
        for column in (*PRICE_COLUMNS, _VOLUME):
            if column in frame.columns:
                out[column] = numeric_or_strings(frame[column])
            else:
                out[column] = np.nan
        out = out.loc[keep]
        # Stable, so equal timestamps keep file order; the gate reports duplicates.
        out = out.sort_values(TIMESTAMP, kind="stable", na_position="last", ignore_index=True)
        bars = out[list(BAR_COLUMNS)]
        bars.attrs = {
            "file_format": reading.layout,
            "volume_kind": reading.volume_kind,
            "source_notes": notes,
        }
        return bars


@dataclass(frozen=True)
class _Reading:
    """A file's columns as read, before conversion: how it was read and what was assumed."""

    frame: pd.DataFrame
    line_numbers: npt.NDArray[np.int64]
    where: str
    layout: str
    time_format: str | None
    profile: Profile | None = None
    volume_kind: str = "traded"
    notes: list[str] = field(default_factory=list)


def _zone_note(given: Zone | None, zone: Zone, profile: Profile | None, naive: bool) -> str:
    clock = profile.clock if profile is not None else "the file does not say which zone it uses"
    if given is not None and naive:
        return f"time zone: {given.name} (--source-timezone), converted to UTC"
    if not naive:
        unused = " (--source-timezone not used)" if given is not None else ""
        return f"time zone: the times carry their UTC offset or are epoch times{unused}"
    if profile is not None and profile.timezone_stated:
        converted = "" if zone.is_utc else f" ({zone.name}), converted to UTC"
        return f"time zone: {clock}{converted}"
    return (
        f"time zone: UTC assumed: {clock}; pass --source-timezone (e.g. Etc/GMT-2, "
        "Europe/Athens, America/New_York+7) if it is not UTC"
    )
