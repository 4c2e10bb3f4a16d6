"""The layout of a CSV bar file: where its header is and whether every row has its width.

:func:`find_header` locates the header line (the first of the first lines naming open, high,
low and close, unless ``skip_rows`` says where it is) and its delimiter;
:func:`check_field_counts` gives each data row's 1-based file line and raises
:class:`volcast.errors.ParseError` at the first row with the wrong number of fields (a
truncated last line, a stray delimiter). A missing price column raises one with
``failed_checks=["required_columns"]``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from volcast.errors import ParseError
from volcast.schemas import PRICE_COLUMNS

_HEADER_SCAN_LINES: Final = 100
_DELIMITERS: Final = (",", ";", "\t", "|")


def find_header(
    data: bytes, *, skip_rows: int | None, path: Path, symbol: str, source: str
) -> tuple[int, str, list[str]]:
    """0-based index of the header line, its delimiter and its column names."""
    head = data[: 1 << 20].decode("utf-8-sig", errors="replace").split("\n")
    if skip_rows is not None:
        if skip_rows >= len(head):
            raise ParseError(
                f"{path}: skip_rows={skip_rows} skips past the end of the file ({len(head)} lines)",
                failed_checks=["required_columns"],
                path=str(path),
                symbol=symbol,
                source=source,
            )
        line = head[skip_rows]
        delimiter = max(_DELIMITERS, key=lambda d: len(_split(line, d)))
        return skip_rows, delimiter, _split(line, delimiter)

    best: tuple[int, int, list[str]] = (-1, 0, [])
    for index, line in enumerate(head[:_HEADER_SCAN_LINES]):
        for delimiter in _DELIMITERS:
            fields = _split(line, delimiter)
            found = {f.lower().strip("<>") for f in fields} & set(PRICE_COLUMNS)
            if len(found) == len(PRICE_COLUMNS):
                return index, delimiter, fields
            if len(found) > best[0]:
                best = (len(found), index, fields)
    n_found, index, fields = best
    missing = [c for c in PRICE_COLUMNS if c not in {f.lower().strip("<>") for f in fields}]
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
        source=source,
        column=missing[0],
        line=index + 1 if n_found > 0 else None,
    )


def _split(line: str, delimiter: str) -> list[str]:
    return [f.strip().strip('"').strip() for f in line.split(delimiter)]


def check_field_counts(
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
