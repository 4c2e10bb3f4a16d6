"""The latest stored bars of each series, read from the curated store.

Bars are cleaned over the whole stored series exactly as training cleans them
(:func:`volcast.quality.clean_bars`, isolated one-bar gaps forward-filled), then cut to the
tail a forecast needs. Only the background refresh calls these; the request path reads the
:class:`Bars` kept in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from volcast.errors import ConfigError
from volcast.quality import clean_bars
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bars:
    """The latest stored bars of one series, as of one curated content hash."""

    content_hash: str
    frame: pd.DataFrame
    last_timestamp: pd.Timestamp
    live: bool
    synthetic: bool
    source: str | None
    truncated: bool = False
    """Whether older stored bars were left out of ``frame``."""


def scan_curated(storage: Storage) -> dict[Series, dict[str, Any]]:
    """The curated meta of every stored series (``curated/<slug>/<interval>/meta.json``)."""
    found: dict[Series, dict[str, Any]] = {}
    for slug_dir in storage.list("curated"):
        for interval_dir in storage.list(slug_dir):
            meta_path = f"{interval_dir}/meta.json"
            if not storage.exists(meta_path):
                continue
            meta = storage.read_json(meta_path)
            symbol, interval = meta.get("symbol"), meta.get("interval")
            if not isinstance(symbol, str) or not isinstance(interval, str):
                continue
            try:
                found[Series(symbol, interval)] = meta
            except ConfigError as exc:
                log.warning("skipping %s: %s", meta_path, exc)
    return found


def read_meta(storage: Storage, series: Series) -> dict[str, Any]:
    """The curated meta of ``series``."""
    meta: dict[str, Any] = storage.read_json(series.layout.curated_meta)
    return meta


def read_bars(storage: Storage, series: Series, meta: dict[str, Any], *, keep: int) -> Bars | None:
    """The cleaned tail (``keep`` bars) of the stored curated bars; None when none are stored."""
    frame = storage.read_parquet(series.layout.curated_bars)
    if frame.empty:
        return None
    cleaned = clean_bars(frame, interval=series.interval)
    if cleaned.empty:
        return None
    tail = cleaned.tail(keep).reset_index(drop=True)
    return Bars(
        content_hash=str(meta.get("content_hash")),
        frame=tail,
        last_timestamp=pd.Timestamp(tail[TIMESTAMP].iloc[-1]),
        live=bool(meta.get("live", False)),
        synthetic=bool(meta.get("synthetic", False)),
        source=meta.get("source"),
        truncated=len(tail) < len(cleaned),
    )
