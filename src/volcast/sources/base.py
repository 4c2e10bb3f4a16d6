"""The Source protocol every market-data source implements, and the raw-payload sink.

A source turns ``(symbol, interval, since)`` into a frame of *closed* bars with the columns
of :data:`volcast.schemas.BAR_COLUMNS` (``timestamp`` tz-aware UTC, ascending, unique), and
hands each raw payload to ``on_raw`` the moment it arrives, before parsing, so the ingest stage
can save it untouched. Price columns are ``float64`` when every value parses; a file source
leaves a column as strings (object dtype) when some value does not, so the quality gate can
name it. Live sources raise :class:`volcast.errors.SourceError` after their last retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import pandas as pd

RawSink = Callable[[bytes, str], None]
"""Called with (payload bytes exactly as received, file extension such as ``json``)."""


def discard_raw(payload: bytes, ext: str) -> None:
    """A sink that drops payloads (for callers that do not archive raw data)."""


@runtime_checkable
class Source(Protocol):
    """A market-data source."""

    name: str
    """Registry name, also the ``raw/<source>/`` directory (``twelvedata``, ``csv``, ...)."""

    live: bool
    """True for network providers: freshness is checked and stale data fails the gate."""

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """Closed bars strictly after ``since`` (all available history when None)."""
        ...
