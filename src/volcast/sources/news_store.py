"""Where headlines live under the data directory, and the news ingest of one series.

Per series (slug of the symbol; headlines do not depend on the bar interval):

- ``raw/news/<slug>/raw_YYYYMMDD_HHMMSS[_pNNN].<xml|json>``: each feed's body exactly as
  received, written atomically the moment it parsed (``_pNNN`` numbers the second and later
  feeds of one run);
- ``news/<slug>/headlines.parquet``: every headline seen, deduplicated by ``id`` (a headline
  already stored is kept as first stored, never rewritten), sorted by ``published`` (UTC),
  with ``collected_at``. Written atomically once every feed of the run has been read: a
  feed that fails leaves the table as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from volcast.errors import NotFoundError
from volcast.schemas import slugify
from volcast.sources.news_parse import empty_headlines

if TYPE_CHECKING:
    from volcast.sources.news import NewsFeedSource
from volcast.storage import Storage

logger = logging.getLogger(__name__)


def raw_news_path(symbol: str, collected_at: pd.Timestamp, *, page: int, ext: str) -> str:
    """Relative path of one raw feed body."""
    stamp = collected_at.strftime("%Y%m%d_%H%M%S")
    suffix = "" if page <= 1 else f"_p{page:03d}"
    return f"raw/news/{slugify(symbol)}/raw_{stamp}{suffix}.{ext}"


def headlines_path(symbol: str) -> str:
    """Relative path of the series' deduplicated headlines table."""
    return f"news/{slugify(symbol)}/headlines.parquet"


@dataclass(frozen=True)
class NewsIngestResult:
    """What one news ingest did."""

    symbol: str
    feeds: int
    fetched: int
    new: int
    skipped: int
    total: int
    raw_paths: tuple[str, ...]
    headlines_path: str


def read_headlines(storage: Storage, symbol: str) -> pd.DataFrame:
    """The stored headlines of ``symbol``; NotFoundError naming the command when none."""
    path = headlines_path(symbol)
    if not storage.exists(path):
        raise NotFoundError(
            f"no headlines stored for {symbol}; run `volcast news ingest --symbol {symbol} "
            "--feed URL` first (or set features.news: false)",
            symbol=symbol,
        )
    return _normalise(storage.read_parquet(path))


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as datetime64[ns, UTC] whatever unit Parquet gave back."""
    for column in ("published", "collected_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame


def ingest_news(
    *,
    storage: Storage,
    sources: Sequence[NewsFeedSource],
    symbol: str,
    clock: Callable[[], pd.Timestamp] | None = None,
) -> NewsIngestResult:
    """Read every feed of ``sources``, archive each raw body, merge new headlines."""
    now = clock() if clock is not None else pd.Timestamp.now(tz="UTC")
    raw_paths: list[str] = []
    frames: list[pd.DataFrame] = []
    skipped = 0
    for page, source in enumerate(sources, start=1):

        def save(data: bytes, ext: str, page: int = page) -> None:
            raw_paths.append(
                storage.write_bytes(raw_news_path(symbol, now, page=page, ext=ext), data)
            )

        parsed = source.fetch_headlines(symbol=symbol, on_raw=save)
        skipped += parsed.skipped
        if parsed.skipped:
            logger.warning(
                "news: %d item(s) of %r had no title or no readable date and were skipped",
                parsed.skipped,
                source,
            )
        frames.append(parsed.headlines.sort_values("published", kind="stable"))
    fetched = pd.concat(frames, ignore_index=True) if frames else empty_headlines()
    fetched = _normalise(fetched.drop_duplicates("id", keep="first").assign(collected_at=now))
    path = headlines_path(symbol)
    old = _normalise(storage.read_parquet(path)) if storage.exists(path) else None
    new = fetched if old is None else fetched.loc[~fetched["id"].isin(set(old["id"]))]
    if old is not None and new.empty:
        merged = old  # nothing new: the table is not rewritten
    else:
        parts = [new] if old is None else [old, new]
        merged = (
            pd.concat(parts, ignore_index=True)
            .sort_values(["published", "id"], kind="stable")
            .reset_index(drop=True)
        )
        storage.write_parquet(path, merged)
    return NewsIngestResult(
        symbol=symbol,
        feeds=len(sources),
        fetched=len(fetched),
        new=len(new),
        skipped=skipped,
        total=len(merged),
        raw_paths=tuple(raw_paths),
        headlines_path=storage.url(path),
    )
