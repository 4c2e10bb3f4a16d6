"""The news source against a real local HTTP server replaying feeds in their own formats.

RSS 2.0, Atom 1.0, JSON Feed 1.1 and NewsAPI bodies (tests/fixtures/news) are served
byte for byte; the source must parse each, normalise every date to UTC, archive the raw
body untouched, retry 5xx and 429 (honouring ``Retry-After``) and refuse a malformed feed
with a clear error and nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from volcast.errors import ConfigError, SourceError
from volcast.sources.news import NewsFeedSource
from volcast.sources.news_store import headlines_path, ingest_news, read_headlines
from volcast.storage import Storage

from .conftest import RawSinkRecorder, ReplayServer, Reply, Sleeps

NEWS = Path(__file__).resolve().parents[2] / "fixtures" / "news"
NOW = pd.Timestamp("2024-01-02 14:00:07", tz="UTC")


def feed(name: str) -> bytes:
    return (NEWS / name).read_bytes()


def make(server: ReplayServer, sleeps: Sleeps, path: str = "/feed", **kw: Any) -> NewsFeedSource:
    options: dict[str, Any] = {
        "feed_url": server.url + path,
        "timeout": 2.0,
        "max_retries": 3,
        "min_interval_seconds": 0.0,
        "sleep": sleeps,
        "backoff_seconds": 0.5,
    }
    options.update(kw)
    return NewsFeedSource(**options)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("name", "fmt", "ext", "expected", "skipped"),
    [
        (
            "rss_fx_headlines.xml",
            "rss20",
            "xml",
            {  # +0000, -0500 and GMT; the repeated guid once; the undated item skipped
                "fxdesk-20240102-0001": utc("2024-01-02 11:58"),
                "fxdesk-20240102-0002": utc("2024-01-02 11:30"),
                "fxdesk-20240102-0003": utc("2024-01-02 09:00"),
            },
            1,
        ),
        (
            "atom_markets.xml",
            "atom10",
            "xml",
            {  # published +01:00 wins over updated; updated alone when no published
                "urn:uuid:0b9f3a52-1c1d-4f0e-8a43-5c1e6b7d8e01": utc("2024-01-02 09:45"),
                "urn:uuid:0b9f3a52-1c1d-4f0e-8a43-5c1e6b7d8e02": utc("2024-01-02 08:15:30"),
            },
            0,
        ),
        (
            "jsonfeed_fx.json",
            "jsonfeed",
            "json",
            {  # +09:00, Z, and a naive date read as UTC; the undated item skipped
                "briefs-9001": utc("2024-01-01 18:20"),
                "briefs-9002": utc("2024-01-02 13:05"),
                "briefs-9003": utc("2024-01-02 07:00"),
            },
            1,
        ),
        (
            "newsapi_everything.json",
            "newsapi",
            "json",
            {  # id is the url: the syndicated copy is a duplicate
                "https://wire.example.com/eurusd-rallies": utc("2024-01-02 09:41:12"),
                "https://business.example.com/fx-lawsuit": utc("2024-01-02 10:02"),
            },
            0,
        ),
    ],
)
def test_each_format_parses_to_utc_headlines(
    server: ReplayServer,
    sleeps: Sleeps,
    raw: RawSinkRecorder,
    name: str,
    fmt: str,
    ext: str,
    expected: dict[str, pd.Timestamp],
    skipped: int,
) -> None:
    body = feed(name)
    server.always("/feed", Reply(body=body))
    parsed = make(server, sleeps).fetch_headlines(symbol="EUR/USD", on_raw=raw)
    assert (parsed.format, parsed.ext, parsed.skipped) == (fmt, ext, skipped)
    frame = parsed.headlines
    assert str(frame["published"].dtype) == "datetime64[ns, UTC]"
    assert dict(zip(frame["id"], frame["published"], strict=True)) == expected
    assert frame["title"].map(bool).all()
    assert raw == [(body, ext)]  # the body exactly as served
    assert sleeps == []


def test_titles_are_decoded_and_links_kept(server: ReplayServer, sleeps: Sleeps) -> None:
    server.always("/feed", Reply(body=feed("rss_fx_headlines.xml")))
    frame = make(server, sleeps).fetch_headlines(symbol="EUR/USD").headlines.set_index("id")
    row = frame.loc["fxdesk-20240102-0002"]
    assert row["title"] == "Dollar slips after weak factory data; traders fear recession & losses"
    assert row["link"] == "https://news.example.com/markets/currencies/dollar-slips-2024-01-02"
    assert row["feed"] == server.url + "/feed"


def test_5xx_then_success_retries_with_backoff(
    server: ReplayServer, sleeps: Sleeps, raw: RawSinkRecorder
) -> None:
    body = feed("atom_markets.xml")
    server.queue("/feed", Reply(status=503, body=b"upstream down"), Reply(status=502))
    server.always("/feed", Reply(body=body))
    parsed = make(server, sleeps).fetch_headlines(symbol="EUR/USD", on_raw=raw)
    assert len(parsed.headlines) == 2
    assert [r.status for r in server.requests] == [503, 502, 200]
    assert len(sleeps) == 2
    assert all(0.0 <= s <= 60.0 for s in sleeps)
    assert raw == [(body, "xml")]  # failed attempts are never archived


def test_429_waits_exactly_retry_after(server: ReplayServer, sleeps: Sleeps) -> None:
    server.queue(
        "/feed",
        Reply(status=429, body=feed("newsapi_error_429.json"), headers={"Retry-After": "7"}),
    )
    server.always("/feed", Reply(body=feed("newsapi_everything.json")))
    parsed = make(server, sleeps, api_key="news-KEY-42").fetch_headlines(symbol="EUR/USD")
    assert sleeps == [7.0]
    assert len(parsed.headlines) == 2
    assert all(r.headers.get("x-api-key") == "news-KEY-42" for r in server.requests)
    assert all("news-KEY-42" not in r.path and not r.query for r in server.requests)


def test_gives_up_after_the_last_retry_naming_the_status(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    server.always("/feed", Reply(status=500, body=b"boom"))
    with pytest.raises(SourceError, match=r"news request for EUR/USD failed after 3 attempt") as e:
        make(server, sleeps, max_retries=2).fetch_headlines(symbol="EUR/USD")
    assert e.value.status == 500
    assert len(server.requests) == 3


def test_a_4xx_fails_at_once(server: ReplayServer, sleeps: Sleeps) -> None:
    server.always("/feed", Reply(status=404, body=b"not here"))
    with pytest.raises(SourceError, match="HTTP 404"):
        make(server, sleeps).fetch_headlines(symbol="EUR/USD")
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (feed("malformed_truncated.xml"), "malformed XML"),
        (b"<html><body>Service page</body></html>", "neither an RSS nor an Atom feed"),
        (b'{"items": [1, 2', "malformed JSON"),
        (b'{"hello": "world"}', "neither a JSON Feed"),
        (b"plain text", "not an XML or JSON feed"),
        (b"", "empty"),
    ],
)
def test_a_malformed_feed_is_a_clear_error_and_nothing_is_written(
    server: ReplayServer, sleeps: Sleeps, tmp_path: Path, body: bytes, message: str
) -> None:
    server.always("/feed", Reply(body=body))
    storage = Storage(tmp_path)
    with pytest.raises(SourceError, match=message) as e:
        ingest_news(storage=storage, sources=[make(server, sleeps)], symbol="EUR/USD")
    assert "news feed" in str(e.value)
    assert "EUR/USD" in str(e.value)
    assert len(server.requests) == 1  # a bad body is not retried
    assert not any(tmp_path.rglob("*.*"))


def test_ingest_archives_raw_and_deduplicates_across_runs(
    server: ReplayServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    rss, atom = feed("rss_fx_headlines.xml"), feed("atom_markets.xml")
    server.always("/rss", Reply(body=rss))
    server.always("/atom", Reply(body=atom))
    storage = Storage(tmp_path)
    sources = [make(server, sleeps, "/rss"), make(server, sleeps, "/atom")]
    first = ingest_news(storage=storage, sources=sources, symbol="EUR/USD", clock=lambda: NOW)
    assert (first.feeds, first.fetched, first.new, first.total, first.skipped) == (2, 5, 5, 5, 1)
    raw_files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("raw_*"))
    assert raw_files == [
        "raw/news/eurusd/raw_20240102_140007.xml",
        "raw/news/eurusd/raw_20240102_140007_p002.xml",
    ]
    assert (tmp_path / raw_files[0]).read_bytes() == rss
    assert (tmp_path / raw_files[1]).read_bytes() == atom
    stored = read_headlines(storage, "EUR/USD")
    assert stored["published"].is_monotonic_increasing
    assert stored["id"].is_unique
    assert (stored["collected_at"] == NOW).all()

    later = NOW + pd.Timedelta(hours=1)
    server.always("/json", Reply(body=feed("jsonfeed_fx.json")))
    again = ingest_news(
        storage=storage,
        sources=[*sources, make(server, sleeps, "/json")],
        symbol="EUR/USD",
        clock=lambda: later,
    )
    assert (again.fetched, again.new, again.total) == (8, 3, 8)
    merged = read_headlines(storage, "EUR/USD")
    kept = merged.loc[merged["id"].isin(stored["id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, stored)  # stored headlines are never rewritten
    assert (merged.loc[~merged["id"].isin(stored["id"]), "collected_at"] == later).all()


def test_a_failing_second_feed_leaves_the_table_untouched(
    server: ReplayServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    storage = Storage(tmp_path)
    server.always("/rss", Reply(body=feed("rss_fx_headlines.xml")))
    ingest_news(storage=storage, sources=[make(server, sleeps, "/rss")], symbol="EUR/USD")
    before = (tmp_path / headlines_path("EUR/USD")).read_bytes()
    server.always("/bad", Reply(body=feed("malformed_truncated.xml")))
    server.always("/json", Reply(body=feed("jsonfeed_fx.json")))
    with pytest.raises(SourceError, match="malformed XML"):
        ingest_news(
            storage=storage,
            sources=[make(server, sleeps, "/json"), make(server, sleeps, "/bad")],
            symbol="EUR/USD",
        )
    assert (tmp_path / headlines_path("EUR/USD")).read_bytes() == before


def test_read_headlines_names_the_command_when_none(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"volcast news ingest --symbol BTC/USD"):
        read_headlines(Storage(tmp_path), "BTC/USD")


def test_a_feed_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        NewsFeedSource(feed_url="file:///etc/passwd", timeout=1.0, max_retries=0)


def test_ingest_source_news_points_to_the_news_command() -> None:
    from volcast.config import Params, Settings
    from volcast.sources.registry import make_source

    with pytest.raises(ConfigError, match="volcast news ingest"):
        make_source("news", settings=Settings(), params=Params())
