"""The time zone of a bar file's clock, and converting its wall-clock times to UTC.

:func:`parse_zone` reads a ``--source-timezone`` value: an IANA name (``Europe/Athens``,
``Etc/GMT-2``, ``America/New_York``), a fixed offset (``UTC+2``, ``GMT-05:00``, ``+03:00``) or
an IANA name shifted by whole hours (``America/New_York+7``: the clock of MetaTrader servers
that sit at GMT+2 in winter and GMT+3 in summer, following New York's DST).

:func:`localize` turns naive wall-clock times into UTC. A daylight-saving transition is
handled, never turned into duplicate or conflicting bars: the repeated hour of the autumn
change is placed by file order, night by night (:func:`place_repeated`: the first pass is
summer time), and the repeated times of a night that has them only once are dropped; a time
inside the spring gap (it does not exist on that clock) raises
:class:`volcast.errors.ParseError`, since the zone is then almost surely wrong. Each
transition crossed is reported in the returned notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError, ParseError

_OFFSET: Final = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_SHIFTED: Final = re.compile(r"^(.+?)([+-])(\d{1,2})(?::?(\d{2}))?$")


@dataclass(frozen=True)
class Zone:
    """A file's clock: a time zone, plus a fixed shift of the clock ahead of that zone."""

    name: str
    tz: tzinfo | str
    shift: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))

    @property
    def is_utc(self) -> bool:
        return self.name.upper() in ("UTC", "ETC/UTC", "GMT") and self.shift == pd.Timedelta(0)


UTC_ZONE: Final = Zone("UTC", "UTC")


def _offset(sign: str, hours: str, minutes: str | None) -> timedelta:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        raise ValueError(f"offset {sign}{hours}:{minutes or '00'} is beyond 14 hours")
    return -delta if sign == "-" else delta


def parse_zone(text: str) -> Zone:
    """The clock ``text`` names (IANA name, ``UTC+2``-style offset, or ``Zone+H``)."""
    value = text.strip()
    if value.upper() in ("UTC", "GMT", "Z"):
        return UTC_ZONE
    try:
        ZoneInfo(value)
        return Zone(value, value)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    try:
        fixed = _OFFSET.match(value)
        if fixed:
            delta = _offset(fixed[1], fixed[2], fixed[3])
            return Zone(value, timezone(delta))
        shifted = _SHIFTED.match(value)
        if shifted:
            base = parse_zone(shifted[1])
            delta = _offset(shifted[2], shifted[3], shifted[4])
            return Zone(value, base.tz, base.shift + pd.Timedelta(delta))
    except (ValueError, ConfigError):
        pass
    raise ConfigError(
        f"--source-timezone {text!r} is not a time zone: use an IANA name (Europe/Athens, "
        "Etc/GMT-2, America/New_York), a fixed offset (UTC+2, -05:00) or a name shifted by "
        "hours (America/New_York+7)"
    )


def has_offsets(raw: pd.Series) -> bool:
    """Whether the first time values carry a UTC offset (``Z``, ``+02:00``, ``GMT+0300``)."""
    sample = raw.head(1000).dropna().head(50).astype(str).str.strip()
    if sample.empty:
        return False
    return bool(sample.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).all())


def localize(
    wall: pd.Series,
    zone: Zone,
    line_numbers: npt.NDArray[np.int64],
    *,
    path: Path,
    symbol: str,
    source: str,
    where: str,
    descending_hint: bool = False,
) -> tuple[pd.Series, npt.NDArray[np.bool_], list[str]]:
    """Naive wall times on ``zone``'s clock as UTC; a mask of the rows kept; notes.

    ``wall`` is in file order (ascending or descending; a descending file is read backwards
    so that the repeated autumn hour keeps its order of occurrence). ``descending_hint`` is
    the order of a file whose times alone cannot tell (the layout's habit).
    """
    notes: list[str] = []
    local = wall - zone.shift
    descending = newest_first(local, default=descending_hint)
    ordered = local.iloc[::-1] if descending else local
    summer, placed = place_repeated(ordered, zone)
    stamped = ordered.dt.tz_localize(zone.tz, ambiguous=summer, nonexistent="NaT")
    stamped = stamped.where(placed)
    stamped = stamped.iloc[::-1] if descending else stamped
    lost = (stamped.isna() & local.notna()).to_numpy()
    if lost.any():
        gap = _nonexistent(local, zone)
        if gap.any():
            first = int(np.flatnonzero(gap)[0])
            line = int(line_numbers[first])
            raise ParseError(
                f"{path}: {where} {line}: local time {wall.iloc[first]} does not exist on the "
                f"clock {zone.name} (the clocks went forward then; {int(gap.sum())} such "
                "value(s)): is the file's time zone right? pass --source-timezone",
                failed_checks=["timestamp_parse"],
                path=str(path),
                symbol=symbol,
                source=source,
                line=line,
            )
        lines = [int(n) for n in line_numbers[lost][:5]]
        notes.append(
            f"DST: {int(lost.sum())} bar(s) at a repeated local time on {zone.name} that the "
            f"file has only once were dropped (they cannot be placed): {where}s {lines}"
        )
    utc = stamped.dt.tz_convert("UTC")
    notes.extend(_transitions(stamped, utc, zone))
    return utc.astype("datetime64[ns, UTC]"), ~lost, notes


SERVER_CLOCKS: Final = (
    "Europe/Athens",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York+7",
    "America/New_York",
    "Australia/Sydney",
)
"""Clocks with daylight saving that broker servers and exchanges commonly keep."""


def repeated_hour_hint(
    wall: pd.Series, line_numbers: npt.NDArray[np.int64], where: str
) -> list[str]:
    """A note when times read as UTC repeat exactly where a common DST clock goes back.

    A file on such a clock read as UTC has the autumn hour twice, which the quality gate
    then rejects as duplicates; the note names the clocks that explain it.
    """
    twice = wall.duplicated(keep=False) & wall.notna()
    if not twice.any():
        return []
    times = pd.Series(wall[twice].unique())
    fits = []
    for name in SERVER_CLOCKS:
        zone = parse_zone(name)
        local = times - zone.shift
        # a repeated time in the spring gap (no such wall time there) is no autumn repeat
        summer = local.dt.tz_localize(
            zone.tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="NaT"
        )
        winter = local.dt.tz_localize(
            zone.tz, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="NaT"
        )
        if bool((summer.notna() & winter.notna() & (summer != winter)).all()):
            fits.append(name)
    if not fits:
        return []
    lines = [int(n) for n in line_numbers[twice.to_numpy()][:4]]
    return [
        f"time zone: {len(times)} time(s) occur twice ({where}s {lines}), just where the clock "
        f"{' or '.join(fits)} goes back an hour in autumn: the file is probably on that "
        f"clock; pass --source-timezone {fits[0]} (or the right one) to place them"
    ]


def newest_first(local: pd.Series, *, default: bool) -> bool:
    """Whether the file runs newest first: most steps between rows go back in time.

    The first and last rows alone can mislead (a file made of the two passes of a repeated
    hour starts and ends on the same wall time); with as many steps back as forward,
    ``default`` decides.
    """
    steps = local.dropna().diff().dropna()
    back, forward = int((steps < pd.Timedelta(0)).sum()), int((steps > pd.Timedelta(0)).sum())
    return default if back == forward else back > forward


def place_repeated(
    local: pd.Series, zone: Zone
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For wall times in file order: which are summer time, and which can be placed at all.

    A wall time in the hour the clocks go back occurs twice. Each such night is judged on
    its own (one night's missing bar must not cost the other nights theirs): in file order,
    its times are summer time until the clock first steps back (a time not after the one
    before it), standard time from there on. A night whose repeated times never step back
    holds each of them once, and which pass they belong to is unknown: they cannot be placed.
    """
    n = len(local)
    summer = np.ones(n, dtype=bool)
    placed = np.ones(n, dtype=bool)
    if n == 0:
        return summer, placed
    as_summer = local.dt.tz_localize(zone.tz, ambiguous=summer, nonexistent="NaT")
    as_winter = local.dt.tz_localize(zone.tz, ambiguous=~summer, nonexistent="NaT")
    repeated = (as_summer.notna() & as_winter.notna() & (as_summer != as_winter)).to_numpy()
    if not repeated.any():
        return summer, placed
    rows = np.flatnonzero(repeated)
    values = local.to_numpy()[rows]
    nights = pd.Series(values).dt.normalize().to_numpy()
    for night in np.unique(nights):
        block = rows[nights == night]
        times = values[nights == night]
        steps = np.flatnonzero(times[1:] <= times[:-1])
        if steps.size == 0:
            placed[block] = False
            continue
        summer[block[steps[0] + 1 :]] = False
    return summer, placed


def _nonexistent(local: pd.Series, zone: Zone) -> npt.NDArray[np.bool_]:
    """Rows whose wall time falls in a spring-forward gap (ambiguous ones count as summer)."""
    summer = np.ones(len(local), dtype=bool)
    stamped = local.dt.tz_localize(zone.tz, ambiguous=summer, nonexistent="NaT")
    gap: npt.NDArray[np.bool_] = (stamped.isna() & local.notna()).to_numpy()
    return gap


def _transitions(stamped: pd.Series, utc: pd.Series, zone: Zone) -> list[str]:
    """A note per change of the clock's UTC offset between bars, and one for repeated times."""
    valid = stamped.notna()
    if zone.is_utc or int(valid.sum()) < 2:
        return []
    wall = stamped[valid].dt.tz_localize(None)
    offsets = wall - utc[valid].dt.tz_localize(None) + zone.shift
    frame = pd.DataFrame({"utc": utc[valid], "offset": offsets}).sort_values("utc", kind="stable")
    previous = frame["offset"].shift()
    changed = frame["offset"].ne(previous) & previous.notna()
    notes = [
        f"DST: the clock {zone.name} goes from UTC{_fmt(before)} to UTC{_fmt(after)} at the "
        f"bar of {at:%Y-%m-%d %H:%M} UTC; bars stay unique and in order in UTC"
        for at, before, after in list(
            zip(
                frame.loc[changed, "utc"],
                previous[changed],
                frame.loc[changed, "offset"],
                strict=True,
            )
        )[:10]
    ]
    repeated = int(wall.duplicated().sum())
    if repeated:
        notes.append(
            f"DST: {repeated} local time(s) occur twice (the hour the clocks went back); "
            "placed by file order, the first as summer time"
        )
    return notes


def _fmt(offset: pd.Timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
