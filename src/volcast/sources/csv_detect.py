"""Which vendor profile a bar file fits, judged from its first lines.

:func:`detect` tries every :class:`~volcast.sources.csv_profiles.Profile`: a profile matches
when its header (or, for a file without header, its delimiter and field count) fits and the
first data rows' times parse with one of its formats and their prices are numbers. A profile
that does not fit gives a :class:`Miss` with a score (how far it got) and the reason, so an
error can name the closest profile and what did not match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from volcast.sources.csv_profiles import PROFILES, Profile, join_time, parse_time

_DELIMITERS: Final = (",", ";", "\t", "|")
_DATA_ROWS: Final = 20
_HEADER_LINES: Final = 10
_PRICES: Final = ("open", "high", "low", "close")
_MISSING: Final = ("", "null", "NULL", "NaN", "nan", "NA", "N/A", "n/a", "None", "#N/A")
"""Cells pandas reads as missing (a subset of its default ``na_values``)."""


def clean_name(name: object) -> str:
    """A header cell without surrounding spaces and quotes."""
    return str(name).strip().strip('"').strip()


def split_line(line: str, delimiter: str) -> list[str]:
    return [clean_name(f) for f in line.rstrip("\r").split(delimiter)]


def sniff_delimiter(line: str) -> str:
    """The delimiter that splits ``line`` into the most fields (comma on a tie)."""
    return max(_DELIMITERS, key=lambda d: len(line.split(d)))


@dataclass(frozen=True)
class Match:
    """A profile that fits a file, and where its parts are."""

    profile: Profile
    delimiter: str
    header_index: int
    """0-based line of the header; -1 when the file has none."""
    fields: list[str]
    """Bar field of each column (``_`` + position for a column the profile ignores)."""
    time_format: str


@dataclass(frozen=True)
class Miss:
    """Why a profile does not fit: how far it got (for naming the closest) and the reason."""

    profile: Profile
    score: int
    reason: str


def detect(
    lines: Sequence[str], *, only: Profile | None = None, file_name: str = ""
) -> tuple[list[Match], list[Miss]]:
    """Every profile that fits the file's first ``lines``, and why each other does not.

    A profile with a ``file_name`` pattern fits only a file so named (unless it is ``only``,
    named with --file-format), and then wins over the profiles of the same layout without one.
    """
    matches: list[Match] = []
    misses: list[Miss] = []
    for profile in (only,) if only is not None else PROFILES:
        named = profile.file_name is not None and only is None
        if named and not re.search(str(profile.file_name), file_name, re.IGNORECASE):
            misses.append(Miss(profile, 0, f"the file name is not {profile.vendor}'s"))
            continue
        result = check(profile, lines)
        if isinstance(result, Match):
            matches.append(result)
        else:
            misses.append(result)
    by_name = [m for m in matches if m.profile.file_name is not None]
    if by_name:
        vendor = by_name[0].profile.vendor
        for m in matches:
            if m.profile.file_name is None:
                misses.append(Miss(m.profile, 9, f"its layout, but the name says {vendor}"))
        matches = by_name
    return matches, misses


def check(profile: Profile, lines: Sequence[str]) -> Match | Miss:
    """Whether ``profile`` fits a file starting with ``lines``."""
    content = [(i, line) for i, line in enumerate(lines) if line.strip()]
    if not content:
        return Miss(profile, 0, "the file is empty")
    first_index, first = content[0]
    delimiter = sniff_delimiter(first)
    header_miss: Miss | None = None
    if profile.names:
        found = _find_header(profile, content[:_HEADER_LINES])
        if isinstance(found, Miss):
            header_miss = found
        else:
            index, delimiter, fields = found
            return _check_rows(profile, content, index, delimiter, fields)
    if profile.positions:
        cells = split_line(first, delimiter)
        fields_ok = len(cells) == len(profile.positions)
        delimiter_ok = delimiter in profile.delimiters
        if fields_ok and delimiter_ok:
            return _check_rows(profile, content, -1, delimiter, list(profile.positions))
        problems = []
        if not delimiter_ok:
            problems.append(f"is split by {_show(delimiter)}, not {_show(profile.delimiters[0])}")
        if not fields_ok:
            problems.append(f"has {len(cells)} fields, not {len(profile.positions)}")
        score = 2 * fields_ok + delimiter_ok + 3 * _time_fits(profile, cells)
        return Miss(
            profile,
            score,
            f"line {first_index + 1} {' and '.join(problems)} "
            f"({profile.vendor} files have no header)",
        )
    assert header_miss is not None
    return header_miss


def _find_header(
    profile: Profile, content: Sequence[tuple[int, str]]
) -> tuple[int, str, list[str]] | Miss:
    best = Miss(profile, 0, f"no header line names {_expected(profile)}")
    for index, line in content:
        delimiter = sniff_delimiter(line)
        cells = [c.lower() for c in split_line(line, delimiter)]
        known = [c for c in cells if c in profile.names]
        fields = [profile.names.get(c, f"_{n}") for n, c in enumerate(cells)]
        missing = [r for r in profile.required if r not in fields]
        unknown = [c for c in cells if c not in profile.names]
        if not missing and (profile.extra_names or not unknown):
            twice = sorted({f for f in fields if not f.startswith("_") and fields.count(f) > 1})
            problem = None
            if delimiter not in profile.delimiters:
                problem = f"split by {_show(delimiter)}, not {_show(profile.delimiters[0])}"
            elif twice:
                problem = f"with {twice} twice (one series per file: several tickers?)"
            if problem is not None:
                return Miss(
                    profile,
                    3 + len(known),
                    f"line {index + 1} is {profile.vendor}'s header but {problem}",
                )
            below = _below_header(profile, content, index, delimiter)
            if isinstance(below, Miss):
                return below
            return below, delimiter, fields
        score = 1 + len(known)
        if known and score > best.score:
            what = f"lacks {[r for r in missing]}" if missing else f"has unknown {unknown}"
            best = Miss(
                profile, score, f"header line {index + 1} {what} (expected {_expected(profile)})"
            )
    return best


def _below_header(
    profile: Profile, content: Sequence[tuple[int, str]], index: int, delimiter: str
) -> int | Miss:
    """The last line of a multi-level header starting at line ``index`` (0-based)."""
    after = [(i, line) for i, line in content if i > index][: len(profile.below_header)]
    last = index
    for n, names in enumerate(profile.below_header):
        cell = split_line(after[n][1], delimiter)[0].lower() if n < len(after) else ""
        if cell not in names:
            return Miss(
                profile,
                6,
                f"line {after[n][0] + 1 if n < len(after) else index + 2 + n} should start "
                f"with {' or '.join(sorted(names))} (the header's level {n + 2}), not {cell!r}",
            )
        last = after[n][0]
    return last


def _check_rows(
    profile: Profile,
    content: Sequence[tuple[int, str]],
    header_index: int,
    delimiter: str,
    fields: list[str],
) -> Match | Miss:
    rows = [(i, split_line(line, delimiter)) for i, line in content if i > header_index]
    rows = rows[:_DATA_ROWS]
    score = 10
    if not rows:
        return Miss(profile, score, "no data rows after the header")
    for index, cells in rows:
        if len(cells) != len(fields):
            return Miss(
                profile, score, f"line {index + 1} has {len(cells)} fields, not {len(fields)}"
            )
    # Empty cells (and pandas' missing-value words, as Yahoo's "null") are the quality gate's
    # to judge; the others must read as the profile says.
    frame = pd.DataFrame([cells for _, cells in rows], columns=fields)
    frame = frame.mask(frame.isin(_MISSING))
    prices = frame[[f for f in _PRICES if f in frame.columns]]
    numbers = prices.apply(pd.to_numeric, errors="coerce")
    if bool((numbers.isna() & prices.notna()).any().any()):
        return Miss(profile, score + 1, f"the prices near line {rows[0][0] + 1} are not numbers")
    text = join_time(frame, profile.time_fields(fields)).dropna()
    if text.empty:
        return Miss(profile, score + 1, f"no times in the first {len(rows)} data rows")
    for fmt in profile.time_formats:
        if parse_time(text, fmt).notna().all():
            return Match(profile, delimiter, header_index, fields, fmt)
    failed = parse_time(text, profile.time_formats[0]).isna()
    position = int(failed.to_numpy().argmax())
    line = rows[int(text.index[position])][0] + 1
    return Miss(
        profile,
        score + 2,
        f"line {line}: time {text.iloc[position]!r} does not "
        f"parse as {' or '.join(profile.time_formats)}",
    )


def _time_fits(profile: Profile, cells: list[str]) -> bool:
    """Whether the cells where the profile keeps its time parse as one of its formats."""
    where = [profile.positions.index(f) for f in profile.time_fields(profile.positions)]
    if not where or max(where) >= len(cells):
        return False
    text = pd.Series([" ".join(cells[i] for i in where)])
    return any(bool(parse_time(text, fmt).notna().all()) for fmt in profile.time_formats)


def _expected(profile: Profile) -> str:
    return ", ".join(sorted(profile.names)) if profile.names else f"{len(profile.positions)} fields"


def _show(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, delimiter)
