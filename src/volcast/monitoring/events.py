"""Monitoring events: what the live loop decided about a series, and why.

One :class:`Event` per decision, written by the stream worker as one JSON object a line to
``monitoring/<slug>/<interval>/events.jsonl`` (SPEC 18)::

    {"time": "2024-03-05T07:00:00+00:00", "event": "decay", "detail": {...}}

``time`` is the timestamp of the bar the decision was made on (ISO-8601, UTC), not the wall
clock, so a replay writes the same events as the live run it rehearses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import pandas as pd

from volcast.errors import ConfigError

EventKind = Literal[
    "drift",
    "decay",
    "retrain_started",
    "retrain_done",
    "promoted",
    "rejected",
    "bar_rejected",
    "source_error",
    "retrain_requested",
]
EVENT_KINDS: Final[tuple[str, ...]] = get_args(EventKind)


def _plain(value: Any) -> Any:
    """``value`` as strict JSON: non-finite floats become None, timestamps ISO strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def _iso(stamp: pd.Timestamp) -> str:
    stamp = pd.Timestamp(stamp)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


@dataclass(frozen=True)
class Event:
    """One monitoring decision about a series, made at bar ``time``."""

    time: pd.Timestamp
    event: EventKind
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event not in EVENT_KINDS:
            raise ConfigError(f"unknown event {self.event!r}; one of {', '.join(EVENT_KINDS)}")

    def to_json(self) -> str:
        """The event as one line of strict JSON (no NaN), without the newline."""
        document = {"time": _iso(self.time), "event": self.event, "detail": _plain(self.detail)}
        return json.dumps(document, allow_nan=False, sort_keys=False)

    @classmethod
    def from_json(cls, line: str) -> Event:
        """Parse one line of ``events.jsonl``; ConfigError names what is wrong."""
        try:
            document = json.loads(line)
            return cls(
                time=pd.Timestamp(document["time"]),
                event=document["event"],
                detail=dict(document.get("detail") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a monitoring event line: {line[:200]!r} ({exc})") from exc
