"""Parse a news feed's bytes into headlines: RSS 2.0 / Atom (feedparser) and two JSON shapes.

Formats accepted (detected from the body, not from the ``Content-Type`` header, which feeds
often get wrong):

- **RSS 2.0** and **Atom 1.0** (also RSS 0.9x/1.0 and Atom 0.3, whatever feedparser reads);
  malformed XML is an error, never a partial read.
- **JSON Feed 1.0/1.1** (https://jsonfeed.org): ``{"version": "https://jsonfeed.org/version/1.1",
  "items": [{"id", "url", "title", "summary" | "content_text", "date_published"}]}``.
- **NewsAPI.org** ``/v2/everything`` and ``/v2/top-headlines``: ``{"status": "ok",
  "articles": [{"source": {"name"}, "title", "description", "url", "publishedAt"}]}``; an
  ``{"status": "error", "code", "message"}`` body is an error.

Every headline gets ``published`` as a tz-aware UTC timestamp: feedparser converts RFC 822 /
RFC 3339 offsets to UTC; JSON dates are ISO-8601, converted with their offset, and a date
without an offset is read as UTC. Items without a title or a readable date are skipped and
counted (they cannot be placed in time). ``id`` is the item's id (RSS ``guid``, Atom ``id``,
JSON Feed ``id``), else its link, else a hash of title and date; duplicates within a feed
keep their first occurrence.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

HEADLINE_COLUMNS: Final = ("id", "published", "title", "summary", "link", "feed")
"""Columns of a headlines frame (``published`` datetime64[ns, UTC], the others strings)."""

JSON_FEED_PREFIX: Final = "https://jsonfeed.org/version/"


class FeedFormatError(ValueError):
    """The body is not a feed in an accepted format (or is malformed)."""


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's headlines, its format (``rss20``, ``atom10``, ``jsonfeed``, ``newsapi``...),
    the raw file extension (``xml`` or ``json``) and how many items were skipped."""

    format: str
    ext: str
    headlines: pd.DataFrame
    skipped: int


def empty_headlines() -> pd.DataFrame:
    """A headlines frame with no rows and the right dtypes."""
    frame = pd.DataFrame({c: pd.Series([], dtype="object") for c in HEADLINE_COLUMNS})
    frame["published"] = pd.Series([], dtype="datetime64[ns, UTC]")
    return frame


def parse_feed(content: bytes, *, feed: str) -> ParsedFeed:
    """The headlines of ``content``; ``feed`` (the feed's URL) fills the ``feed`` column."""
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise FeedFormatError("the feed is empty")
    if body[:1] in (b"{", b"["):
        return _parse_json(body, feed=feed)
    if body[:1] == b"<":
        return _parse_xml(content, feed=feed)
    snippet = body[:60].decode("utf-8", errors="replace")
    raise FeedFormatError(f"not an XML or JSON feed; body starts with {snippet!r}")


def _utc(value: str) -> pd.Timestamp | None:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def _struct_utc(value: time.struct_time | None) -> pd.Timestamp | None:
    if value is None:
        return None
    return pd.Timestamp(calendar.timegm(value), unit="s", tz="UTC")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _frame(rows: list[dict[str, Any]], *, feed: str) -> pd.DataFrame:
    if not rows:
        return empty_headlines()
    for row in rows:
        row["feed"] = feed
        if row["id"] is None:
            row["id"] = (
                row["link"]
                or hashlib.sha1(  # an id for dedupe, not security
                    f"{row['title']}|{row['published'].isoformat()}".encode(),
                    usedforsecurity=False,
                ).hexdigest()
            )
    frame = pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))
    frame["published"] = pd.to_datetime(frame["published"], utc=True).astype("datetime64[ns, UTC]")
    return frame.drop_duplicates("id", keep="first").reset_index(drop=True)


def _row(
    *, id: Any, published: pd.Timestamp | None, title: Any, summary: Any, link: Any
) -> dict[str, Any] | None:
    title_text = _text(title)
    if title_text is None or published is None:
        return None
    return {
        "id": _text(id),
        "published": published,
        "title": title_text,
        "summary": _text(summary),
        "link": _text(link),
    }


def _parse_xml(content: bytes, *, feed: str) -> ParsedFeed:
    import feedparser  # imported on use: the CLI starts without it

    parsed = feedparser.parse(content)
    error = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(error, xml.sax.SAXException):
        raise FeedFormatError(f"malformed XML: {error}")
    version = str(parsed.get("version") or "")
    if not version:
        raise FeedFormatError("XML that is neither an RSS nor an Atom feed")
    rows: list[dict[str, Any]] = []
    skipped = 0
    for entry in parsed.entries:
        row = _row(
            id=entry.get("id"),
            published=_struct_utc(entry.get("published_parsed") or entry.get("updated_parsed")),
            title=entry.get("title"),
            summary=entry.get("summary"),
            link=entry.get("link"),
        )
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return ParsedFeed(version, "xml", _frame(rows, feed=feed), skipped)


def _parse_json(body: bytes, *, feed: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise FeedFormatError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise FeedFormatError("a JSON feed must be an object (JSON Feed or NewsAPI)")
    if str(doc.get("version", "")).startswith(JSON_FEED_PREFIX):
        return _rows_of(doc.get("items"), "jsonfeed", "items", feed, _jsonfeed_row)
    if doc.get("status") == "error":
        raise FeedFormatError(
            f"the news API answered an error: {doc.get('code')}: {doc.get('message')}"
        )
    if "articles" in doc:
        return _rows_of(doc.get("articles"), "newsapi", "articles", feed, _newsapi_row)
    raise FeedFormatError(
        "JSON that is neither a JSON Feed (version https://jsonfeed.org/version/...) "
        "nor a NewsAPI response (status + articles)"
    )


def _jsonfeed_row(item: dict[str, Any]) -> dict[str, Any] | None:
    date = item.get("date_published") or item.get("date_modified")
    return _row(
        id=item.get("id"),
        published=_utc(str(date)) if date else None,
        title=item.get("title"),
        summary=item.get("summary") or item.get("content_text"),
        link=item.get("url"),
    )


def _newsapi_row(item: dict[str, Any]) -> dict[str, Any] | None:
    date = item.get("publishedAt")
    return _row(
        id=None,
        published=_utc(str(date)) if date else None,
        title=item.get("title"),
        summary=item.get("description"),
        link=item.get("url"),
    )


def _rows_of(
    items: Any,
    fmt: str,
    key: str,
    feed: str,
    row_of: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> ParsedFeed:
    if not isinstance(items, list):
        raise FeedFormatError(f"{fmt}: '{key}' must be a list")
    rows: list[dict[str, Any]] = []
    skipped = 0
    for item in items:
        row = row_of(item) if isinstance(item, dict) else None
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return ParsedFeed(fmt, "json", _frame(rows, feed=feed), skipped)
