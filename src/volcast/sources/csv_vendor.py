"""Reading a bar file in a vendor's layout: unpacking, choosing the profile, the columns.

:func:`unpack` reads gzip and zip files (a zip must hold one data file), :func:`transcode`
UTF-16 text (MetaTrader scripts' default) as UTF-8;
:func:`choose_profile` picks the :class:`~volcast.sources.csv_profiles.Profile` a file fits
(or the one forced with ``--file-format``) and raises :class:`volcast.errors.ParseError` when
the file fits several or not the forced one; :func:`read_profile` reads the file's columns by
the profile, with the line of each row, and picks the volume column; :func:`closest_hint`
names the profile a file came closest to and what did not match, for the error of a file no
reader understands.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ParseError
from volcast.sources.csv_detect import Match, detect
from volcast.sources.csv_layout import check_field_counts
from volcast.sources.csv_profiles import BY_NAME, Profile, VolumeKind

_HEAD_BYTES: Final = 1 << 16
_HEAD_LINES: Final = 40


def unpack(data: bytes, *, path: Path, symbol: str, source: str) -> tuple[bytes, str, str]:
    """The file's text bytes, the raw archive's extension (``csv``, ``csv.gz``, ``zip``) and
    the data file's name (a zip member's own name; a gzip file's name without ``.gz``).

    A zip must hold one data file; beside one ``.csv`` it may hold notes, as the ``.txt`` gap
    report in HistData's zips.
    """
    try:
        if data[:2] == b"\x1f\x8b":
            name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
            return gzip.decompress(data), "csv.gz", name
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [
                    m
                    for m in archive.infolist()
                    if not m.is_dir() and not m.filename.startswith(("__MACOSX/", "."))
                ]
                csvs = [m for m in members if m.filename.lower().endswith((".csv", ".tsv"))]
                if len(members) > 1 and len(csvs) == 1:
                    members = csvs
                if len(members) != 1:
                    names = [m.filename for m in members]
                    raise ParseError(
                        f"{path}: a zip file must hold exactly one data file, it holds {names}",
                        failed_checks=["parse"],
                        path=str(path),
                        symbol=symbol,
                        source=source,
                    )
                return archive.read(members[0]), "zip", Path(members[0].filename).name
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise ParseError(
            f"{path}: cannot unpack the compressed file: {exc}",
            failed_checks=["parse"],
            path=str(path),
            symbol=symbol,
            source=source,
        ) from exc
    return data, "csv", path.name


def transcode(data: bytes, *, path: Path, symbol: str, source: str) -> tuple[bytes, str | None]:
    """The text as UTF-8, and the encoding it was in when that was not UTF-8.

    MetaTrader's scripts write Unicode (UTF-16 little-endian) unless told otherwise, as does
    Excel's "Unicode text"; such a file is recognised by its byte-order mark or, without
    one, by the zero bytes of its ASCII characters.
    """
    head = data[:4096]
    encoding = None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif len(head) >= 4 and head.count(0) >= len(head) // 3:
        odd_zeros = head[1::2].count(0)
        encoding = "utf-16-le" if odd_zeros > head[0::2].count(0) else "utf-16-be"
    if encoding is None:
        return data, None
    try:
        return data.decode(encoding).encode("utf-8"), "UTF-16"
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{path}: the file looks like UTF-16 text but does not decode as it: {exc}",
            failed_checks=["parse"],
            path=str(path),
            symbol=symbol,
            source=source,
        ) from exc


def head_lines(data: bytes) -> list[str]:
    """The first lines of the file's text (enough to recognise its layout)."""
    text = data[:_HEAD_BYTES].decode("utf-8-sig", errors="replace")
    lines = text.split("\n")
    if len(data) > _HEAD_BYTES:
        lines = lines[:-1]  # the last one is cut
    return lines[:_HEAD_LINES]


def choose_profile(
    lines: list[str],
    *,
    file_format: str | None,
    path: Path,
    symbol: str,
    source: str,
    file_name: str = "",
) -> Match | None:
    """The one profile the file fits (None: none; the generic reader tries it)."""
    forced = BY_NAME[file_format] if file_format is not None else None
    matches, misses = detect(lines, only=forced, file_name=file_name)
    if forced is not None and not matches:
        raise ParseError(
            f"{path}: the file is not in the {forced.name} layout ({forced.vendor}): "
            f"{misses[0].reason}",
            failed_checks=["required_columns"],
            path=str(path),
            symbol=symbol,
            source=source,
            profile=forced.name,
        )
    if len(matches) > 1:
        names = [m.profile.name for m in matches]
        raise ParseError(
            f"{path}: the file fits several layouts ({', '.join(names)}); name one with "
            "--file-format",
            failed_checks=["required_columns"],
            path=str(path),
            symbol=symbol,
            source=source,
            profile=names,
        )
    return matches[0] if matches else None


def closest_hint(lines: list[str], *, file_name: str = "") -> tuple[str, str]:
    """The profile the file comes closest to, and what did not match."""
    _, misses = detect(lines, file_name=file_name)
    best = max(misses, key=lambda m: m.score)
    return (
        best.profile.name,
        f"closest profile {best.profile.name} ({best.profile.vendor}): {best.reason}",
    )


def read_profile(
    data: bytes, match: Match, *, path: Path, symbol: str, source: str
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """The profile's columns as read (time fields as strings) and each row's file line."""
    line_numbers = check_field_counts(
        data,
        header_index=match.header_index,
        delimiter=match.delimiter,
        n_fields=len(match.fields),
        path=path,
        symbol=symbol,
    )
    time_fields = match.profile.time_fields(match.fields)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=match.delimiter,
            header=None,
            skiprows=match.header_index + 1,
            names=match.fields,
            usecols=[f for f in match.fields if not f.startswith("_")],
            dtype=dict.fromkeys(time_fields, str),
            skipinitialspace=True,
            low_memory=False,
            encoding="utf-8-sig",
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ParseError(
            f"{path}: cannot parse the file as {match.profile.name}: {exc}",
            failed_checks=["parse"],
            path=str(path),
            symbol=symbol,
            source=source,
            profile=match.profile.name,
        ) from exc
    if len(line_numbers) != len(frame):
        line_numbers = np.arange(len(frame), dtype=np.int64) + match.header_index + 2
    return frame, line_numbers


def pick_volume(frame: pd.DataFrame, profile: Profile) -> tuple[pd.Series | None, VolumeKind, str]:
    """The volume column to keep, what it is, and a note saying so."""
    if profile.volume == "none":
        return None, "none", f"volume: none ({profile.vendor} has no volume; left empty)"
    real = frame["volume"] if "volume" in frame.columns else None
    tick = frame["tick_volume"] if "tick_volume" in frame.columns else None
    real_is_set = real is not None and bool(
        pd.to_numeric(real, errors="coerce").fillna(0).ne(0).any()
    )
    if real is not None and real_is_set:
        return real, "traded", "volume: traded volume as the file gives it"
    if tick is not None:
        why = "its real volume column is all zero" if real is not None else "it has no real volume"
        return tick, "tick", f"volume: tick volume (price updates per bar): {why}"
    if real is not None:
        return None, "none", "volume: the file's volume is all zero (none for it); left empty"
    return None, "none", "volume: none in the file (left empty)"
