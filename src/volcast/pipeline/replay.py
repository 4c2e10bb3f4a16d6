"""What drives the live loop in time: the clocks, and the replay source that plays a file.

The stream worker asks its clock to wait for the next bar, then fetches it through a
:class:`~volcast.sources.base.Source`. Live, that is the provider and :class:`LiveClock`,
which waits for the next bar to close plus a settle delay. In replay, :class:`ReplaySource`
wraps the file source and hands out one bar per fetch, in order, and :class:`ReplayClock`
paces them at ``speed`` times real time (0: as fast as possible). Both clocks wait on a
``threading.Event``, so a stop request (SIGTERM) ends the wait at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Protocol

import pandas as pd

from volcast.errors import ConfigError
from volcast.schemas import TIMESTAMP, interval_timedelta
from volcast.sources.base import RawSink, Source, discard_raw


class Clock(Protocol):
    """Waits until the next bar may be fetched."""

    def wait(self, last_bar: pd.Timestamp | None, stop: threading.Event) -> bool:
        """Block until the bar after ``last_bar`` should be there; False when stopped."""
        ...


class ReplayClock:
    """One bar every ``interval / speed`` seconds of wall time (no wait when ``speed`` is 0)."""

    def __init__(self, *, interval: str, speed: float) -> None:
        if speed < 0:
            raise ConfigError(f"--speed must be >= 0 (0: as fast as possible), got {speed}")
        self.seconds = 0.0 if speed == 0 else interval_timedelta(interval).total_seconds() / speed

    def wait(self, last_bar: pd.Timestamp | None, stop: threading.Event) -> bool:
        if self.seconds > 0:
            stop.wait(self.seconds)
        return not stop.is_set()


class LiveClock:
    """Waits for the close of the bar after ``last_bar``, plus ``settle`` seconds.

    Bars are stamped at their open: the bar after ``last_bar`` opens at ``last_bar +
    interval`` and closes one interval later. ``now`` is injectable for tests.
    """

    def __init__(
        self,
        *,
        interval: str,
        settle_seconds: float = 5.0,
        now: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        self.step = interval_timedelta(interval)
        self.settle = pd.Timedelta(seconds=settle_seconds)
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))

    def due(self, last_bar: pd.Timestamp | None) -> pd.Timestamp:
        """When the bar after ``last_bar`` has closed and settled (now when unknown)."""
        if last_bar is None:
            return self.now()
        return last_bar + 2 * self.step + self.settle

    def wait(self, last_bar: pd.Timestamp | None, stop: threading.Event) -> bool:
        remaining = (self.due(last_bar) - self.now()).total_seconds()
        if remaining > 0:
            stop.wait(remaining)
        return not stop.is_set()


class ReplaySource:
    """Plays the bars of a file source one per :meth:`fetch`, in order.

    The file is read once, on the first fetch. A fetch returns the first bar after both
    ``since`` (the last curated bar) and the last bar handed out, so a bar the gate rejected
    is not offered again; rows without a timestamp are handed out on their own, for the gate
    to reject. The raw payload of each fetch is the bar as JSON.
    """

    live = False

    def __init__(self, inner: Source, *, start_after: pd.Timestamp | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.start_after = start_after
        self._bars: pd.DataFrame | None = None
        self._position = 0

    def _load(self, symbol: str, interval: str, since: pd.Timestamp | None) -> pd.DataFrame:
        if self._bars is None:
            bars = self.inner.fetch(symbol=symbol, interval=interval, since=None)
            cut = max((s for s in (since, self.start_after) if s is not None), default=None)
            if cut is not None:
                stamps = bars[TIMESTAMP]
                bars = bars.loc[stamps.isna() | (stamps > cut)]
            self._bars = bars.reset_index(drop=True)
        return self._bars

    @property
    def remaining(self) -> int | None:
        """Bars not yet handed out (None before the file is read)."""
        return None if self._bars is None else len(self._bars) - self._position

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """The next bar of the file (an empty frame at its end)."""
        bars = self._load(symbol, interval, since)
        while self._position < len(bars):
            row = bars.iloc[[self._position]]
            self._position += 1
            stamp = row[TIMESTAMP].iloc[0]
            if since is not None and pd.notna(stamp) and stamp <= since:
                continue  # already curated (a restart resumed behind the watermark)
            if on_raw is not discard_raw:
                on_raw(_bar_json(row), "json")
            return row.reset_index(drop=True)
        return bars.iloc[0:0]


def _bar_json(row: pd.DataFrame) -> bytes:
    record = {
        k: (v.isoformat() if isinstance(v, pd.Timestamp) else (None if pd.isna(v) else v))
        for k, v in row.iloc[0].items()
    }
    return json.dumps({"replay": True, "bar": record}, default=str).encode()
