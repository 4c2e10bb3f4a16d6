"""Converting the cells of a bar file: timestamps to UTC, prices and volume to numbers.

:func:`parse_timestamps` converts the time column to ``datetime64[ns, UTC]``, inferring the
format (:func:`infer_timestamps`: epoch units, ISO-8601, then :data:`KNOWN_TIMESTAMP_FORMATS`)
unless one is given, and raises :class:`volcast.errors.ParseError` naming the first line that
fails. :func:`numeric_or_strings` keeps a column holding a non-number as strings, so the
quality gate's schema check names it instead of the value silently becoming NaN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError

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

_FORMAT_SAMPLE: Final = 500

EPOCH: Final = "epoch ms/us"
"""The time format of Binance's dumps: integer epoch milliseconds, microseconds from 2025.

Each value's unit follows from its size, so a file joining months of both reads right."""


def epoch_to_utc(values: pd.Series) -> pd.Series:
    """Integer epoch seconds, ms, us or ns (each value by its size) as UTC; NaT elsewhere."""
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers == numbers.round())
    magnitude = numbers.abs()
    scale = np.select(
        [magnitude < 1e11, magnitude < 1e14, magnitude < 1e17], [1e9, 1e6, 1e3], default=1.0
    )
    nanos = pd.Series(np.where(whole, numbers, np.nan), index=values.index)
    exact = nanos.astype("Int64") * pd.Series(scale, index=values.index).astype("Int64")
    return pd.to_datetime(exact, unit="ns", utc=True, errors="coerce")


def parse_timestamps(
    raw: pd.Series,
    line_numbers: npt.NDArray[np.int64],
    *,
    path: Path,
    symbol: str,
    where: str,
    timestamp_format: str | None,
    source: str,
    tried: str = "",
) -> pd.Series:
    """The column as ``datetime64[ns, UTC]``; ParseError at the first value that fails."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = raw.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return converted
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        localized: pd.Series = raw.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
        return localized
    if is_numeric(raw):
        values, present = raw, raw.notna()
    else:
        values = raw
        present = raw.notna() & (raw != "")
    fmt = timestamp_format
    if fmt == EPOCH:
        stamps = epoch_to_utc(values)
    elif fmt is not None:
        try:
            stamps = pd.to_datetime(values, format=fmt, utc=True, errors="coerce")
        except ValueError as exc:
            raise ConfigError(f"invalid timestamp_format {fmt!r}: {exc}") from exc
    else:
        stamps, fmt = infer_timestamps(values, present)
    failed = present.to_numpy() & stamps.isna().to_numpy()
    if failed.any():
        first = int(np.flatnonzero(failed)[0])
        line = int(line_numbers[first])
        hint = "" if timestamp_format else "; pass timestamp_format"
        raise ParseError(
            f"{path}: {where} {line}: timestamp {values.iloc[first]!r} does not parse as "
            f"{fmt}{tried} ({int(failed.sum())} value(s) fail){hint}",
            failed_checks=["timestamp_parse"],
            path=str(path),
            symbol=symbol,
            source=source,
            line=line,
        )
    return stamps.astype("datetime64[ns, UTC]")


def is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def numeric_or_strings(series: pd.Series) -> pd.Series:
    """float64 when every non-empty value is a number, else the values as strings (object)."""
    if is_numeric(series):
        return series.astype("float64")
    numbers = pd.to_numeric(series, errors="coerce")
    if bool((numbers.isna() & series.notna()).any()):
        return series.astype(object).where(series.notna(), np.nan)
    return numbers.astype("float64")


def looks_epoch(values: pd.Series) -> bool:
    """Whether the first values are all numbers, as epoch times are (not ``YYYYMMDD`` dates)."""
    sample = values.head(1000).dropna().head(50)
    if sample.empty:
        return False
    numbers = pd.to_numeric(sample, errors="coerce")
    is_yyyymmdd = bool(sample.astype(str).str.fullmatch(r"(19|20)\d{6}").all())
    return bool(numbers.notna().all()) and not is_yyyymmdd


def infer_timestamps(values: pd.Series, present: pd.Series) -> tuple[pd.Series, str]:
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
