"""``volcast news ingest``: read news feeds for one series and store their headlines.

The headlines feed the optional news-sentiment features (``features.news: true``,
docs/features.md#news); docs/sources.md#news lists the feed formats accepted.
"""

from __future__ import annotations

from typing import Annotated

import typer

from volcast.cli.app import app
from volcast.cli.edge import command
from volcast.cli.options import ConfigOpt, SymbolOpt
from volcast.cli.output import console
from volcast.config import get_settings, load_params
from volcast.storage import storage_from_settings

news_app = typer.Typer(
    name="news",
    help="Headlines for the optional news-sentiment features (RSS, Atom, JSON feeds).",
    no_args_is_help=True,
)
app.add_typer(news_app, name="news")

FeedOpt = Annotated[
    list[str],
    typer.Option(
        "--feed",
        help="Feed URL (RSS 2.0, Atom, JSON Feed or NewsAPI JSON); repeat for several feeds.",
    ),
]


@news_app.command("ingest")
@command()
def ingest(
    feed: FeedOpt,
    symbol: SymbolOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch each feed, archive its raw body, add the new headlines to the series' table."""
    from volcast.sources.news import NewsFeedSource
    from volcast.sources.news_store import ingest_news

    params = load_params(config)
    settings = get_settings()
    series_symbol = symbol or params.data.symbol
    key = settings.news_api_key.get_secret_value() if settings.news_api_key else None
    sources = [
        NewsFeedSource(
            feed_url=url,
            api_key=key,
            timeout=settings.http_timeout_seconds,
            max_retries=settings.http_max_retries,
        )
        for url in feed
    ]
    try:
        result = ingest_news(storage=storage_from_settings(), sources=sources, symbol=series_symbol)
    finally:
        for source in sources:
            source.close()
    console.print(
        f"[bold]news[/] {result.symbol}: {result.fetched} headline(s) from {result.feeds} "
        f"feed(s), {result.new} new, {result.total} stored"
        + (f", {result.skipped} undated or untitled skipped" if result.skipped else "")
    )
    for path in result.raw_paths:
        console.print(f"  raw: {path}", highlight=False)
    console.print(f"  headlines: {result.headlines_path}", highlight=False)
