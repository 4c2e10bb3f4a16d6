"""The optional ``news`` source: headlines from an RSS/Atom or JSON news feed (SPEC 19).

One :class:`NewsFeedSource` reads one feed URL with the rules of every live source
(:class:`~volcast.sources.http.HttpSource`): the per-source rate limit, tenacity retries with
jittered exponential backoff on 429/5xx/timeouts (exactly ``Retry-After`` when the feed sends
it), a clear :class:`~volcast.errors.SourceError` after the last attempt. The body is parsed by
:mod:`volcast.sources.news_parse` *before* ``on_raw`` sees it, so a malformed feed raises and
nothing is archived. A key for a news API (``VOLCAST_NEWS_API_KEY``) is optional and sent as
the ``X-Api-Key`` header (NewsAPI's), never in the URL.

This is not a bar source (it has no ``fetch``): :mod:`volcast.sources.news_store` archives the
raw payload and merges the headlines per series, and the features stage joins them as of each
bar when ``features.news`` is on (:mod:`volcast.features.news`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from volcast.errors import ConfigError, SourceError
from volcast.sources.base import RawSink, discard_raw
from volcast.sources.http import HttpSource
from volcast.sources.news_parse import FeedFormatError, ParsedFeed, parse_feed


class NewsFeedSource(HttpSource):
    """Headlines of one feed (``feed_url``: RSS 2.0, Atom, JSON Feed or NewsAPI JSON)."""

    name: str = "news"
    key_env_var: ClassVar[str | None] = None
    default_min_interval: ClassVar[float] = 1.0

    def __init__(self, *, feed_url: str, api_key: str | None = None, **kwargs: Any) -> None:
        if not feed_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"news feed URL must start with http:// or https://, got {feed_url!r}",
                provider=self.name,
            )
        super().__init__(api_key=api_key, base_url=feed_url, **kwargs)
        self.feed_url = feed_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(feed_url={self.mask(self.feed_url)!r})"

    def _url(self, path: str) -> str:
        return self.feed_url

    def fetch_headlines(self, *, symbol: str, on_raw: RawSink = discard_raw) -> ParsedFeed:
        """The feed's headlines (``symbol`` names the series in messages only).

        ``on_raw`` receives the body bytes untouched with ``xml`` or ``json`` once the body
        parsed; a malformed body raises :class:`~volcast.errors.SourceError` without calling it.
        """
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        headers["Accept"] = (
            "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/json;q=0.9, application/xml;q=0.8, */*;q=0.5"
        )
        content, parsed = self._get_payload("", params={}, symbol=symbol, headers=headers)
        assert isinstance(parsed, ParsedFeed)
        on_raw(content, parsed.ext)
        return parsed

    def _decode(self, content: bytes, *, symbol: str, status: int) -> Any:
        try:
            return parse_feed(content, feed=self.mask(self.feed_url))
        except FeedFormatError as exc:
            raise SourceError(
                f"news feed {self.mask(self.feed_url)} for {symbol} is not usable: {exc}",
                provider=self.name,
                symbol=symbol,
                status=status,
            ) from None
