"""The base class of the live HTTP sources: an injected httpx client with tenacity retries.

Every provider module subclasses :class:`HttpSource` and implements ``fetch`` with
:meth:`HttpSource._get_json`, which

* waits for the per-provider rate limit (:class:`volcast.sources.limits.MinIntervalLimiter`),
* retries with tenacity on 429, 5xx, timeouts and connection errors (exponential backoff
  with full jitter, or exactly the provider's ``Retry-After`` when it sends one),
* lets the provider turn an error hidden in an HTTP 200 body into a (retryable) error,
* hands each successful page's bytes to ``on_raw`` untouched before any bar is parsed,
* and raises :class:`volcast.errors.SourceError` naming provider, symbol and status after
  the last retry. :class:`volcast.errors.RetryableSourceError` never escapes.

API keys are masked in every message, and :mod:`volcast.sources.redact` redacts key query
parameters from httpx's own request log lines. Providers build their bars with the helpers
of :mod:`volcast.sources.frames`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import httpx
import pandas as pd
import tenacity

from volcast.errors import ConfigError, RetryableSourceError, SourceError
from volcast.sources.frames import as_utc
from volcast.sources.limits import MinIntervalLimiter, Sleep, parse_retry_after
from volcast.sources.redact import install_log_redaction

logger = logging.getLogger(__name__)

Clock = Callable[[], pd.Timestamp]


def utc_now() -> pd.Timestamp:
    """The current time as a tz-aware UTC timestamp (the default clock of live sources)."""
    return pd.Timestamp.now(tz="UTC")


class HttpSource:
    """Base of the live sources: an injected httpx client, retries, rate limit and parsing aids.

    Subclasses set ``name``, ``key_env_var`` (None when no key is needed), ``default_min_interval``
    (seconds between requests: the provider's free-tier limit), ``max_page_size`` and
    implement ``fetch``. They may override :meth:`_check_payload` (errors inside HTTP 200) and
    :meth:`_error_detail` (the message of an HTTP error body).

    ``min_interval_seconds`` and ``page_size`` default to the provider's values;
    ``lookback_bars`` is the history fetched when ``since`` is None. ``sleep`` is used for
    every wait (rate limit and backoff) and ``monotonic`` times the rate limit, so tests can
    inject both; ``backoff_seconds``/``max_backoff_seconds`` shape the jittered exponential
    backoff; a ``Retry-After`` longer than ``max_retry_after_seconds`` fails at once instead
    of blocking. A client passed in is not closed by :meth:`close`.
    """

    name: str = "http"
    live: bool = True
    key_env_var: ClassVar[str | None] = None
    default_min_interval: ClassVar[float] = 1.0
    max_page_size: ClassVar[int] = 1000
    retry_statuses: ClassVar[frozenset[int]] = frozenset({429})

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        timeout: float,
        max_retries: int,
        client: httpx.Client | None = None,
        clock: Clock | None = None,
        min_interval_seconds: float | None = None,
        page_size: int | None = None,
        lookback_bars: int = 5000,
        sleep: Sleep = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        max_retry_after_seconds: float = 300.0,
    ) -> None:
        if self.key_env_var is not None and not api_key:
            raise ConfigError(
                f"{self.name} needs an API key: set {self.key_env_var} in the environment or .env",
                provider=self.name,
            )
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}", provider=self.name)
        page = self.max_page_size if page_size is None else page_size
        if not 1 <= page <= self.max_page_size:
            raise ConfigError(
                f"{self.name} page_size must be in 1..{self.max_page_size}, got {page}",
                provider=self.name,
            )
        if lookback_bars < 1:
            raise ConfigError(f"lookback_bars must be >= 1, got {lookback_bars}")
        self.api_key = api_key or None
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.page_size = page
        self.lookback_bars = lookback_bars
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._clock: Clock = clock if clock is not None else utc_now
        self._sleep = sleep
        interval = (
            self.default_min_interval if min_interval_seconds is None else min_interval_seconds
        )
        self._limiter = MinIntervalLimiter(min_interval=interval, monotonic=monotonic, sleep=sleep)
        install_log_redaction()

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def now(self) -> pd.Timestamp:
        """The source's clock, as tz-aware UTC."""
        return as_utc(pd.Timestamp(self._clock()))

    def mask(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return text

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str | int | float],
        symbol: str,
        on_raw: Callable[[bytes, str], None],
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET ``path`` with retries; the decoded JSON of the first successful response.

        ``on_raw`` receives the response bytes once they passed the HTTP-status, JSON and
        provider-error checks, before the caller parses any bar.
        """
        content, payload = self._get_payload(path, params=params, symbol=symbol, headers=headers)
        on_raw(content, "json")
        return payload

    def _get_payload(
        self,
        path: str,
        *,
        params: Mapping[str, str | int | float],
        symbol: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[bytes, Any]:
        """GET ``path`` with retries; the body bytes and :meth:`_decode` of them."""
        url = self._url(path)
        attempts = self.max_retries + 1
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableSourceError),
            stop=tenacity.stop_after_attempt(attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
        )
        try:
            content, payload = retrying(
                self._attempt, url, params=params, headers=headers or {}, symbol=symbol
            )
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            assert isinstance(last, RetryableSourceError)
            raise SourceError(
                f"{self.name} request for {symbol} failed after {attempts} attempt(s): "
                f"{last.message}",
                provider=self.name,
                symbol=symbol,
                status=last.status,
            ) from last
        return content, payload

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(exc, RetryableSourceError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = tenacity.wait_random_exponential(
            multiplier=self.backoff_seconds, max=self.max_backoff_seconds
        )
        return float(backoff(retry_state))

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
        logger.warning(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            self.name,
            retry_state.attempt_number,
            exc,
            wait,
        )

    def _attempt(
        self,
        url: str,
        *,
        params: Mapping[str, str | int | float],
        headers: Mapping[str, str],
        symbol: str,
    ) -> tuple[bytes, Any]:
        self._limiter.wait()
        try:
            response = self._client.get(url, params=params, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise RetryableSourceError(
                f"{self.name} timed out after {self.timeout}s ({type(exc).__name__})",
                provider=self.name,
                symbol=symbol,
                status="timeout",
            ) from None
        except httpx.TransportError as exc:
            raise RetryableSourceError(
                f"{self.name} connection failed: {self.mask(str(exc)) or type(exc).__name__}",
                provider=self.name,
                symbol=symbol,
                status="connection error",
            ) from None
        status = response.status_code
        if status in self.retry_statuses or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            detail = self._error_detail(response)
            if retry_after is not None and retry_after > self.max_retry_after_seconds:
                raise SourceError(
                    f"{self.name} answered HTTP {status} asking to wait {retry_after:.0f}s, "
                    f"longer than the {self.max_retry_after_seconds:.0f}s limit: {detail}",
                    provider=self.name,
                    symbol=symbol,
                    status=status,
                )
            raise RetryableSourceError(
                f"{self.name} answered HTTP {status}: {detail}",
                provider=self.name,
                symbol=symbol,
                status=status,
                retry_after=retry_after,
            )
        if status >= 400:
            raise SourceError(
                f"{self.name} rejected the request for {symbol} with HTTP {status}: "
                f"{self._error_detail(response)}",
                provider=self.name,
                symbol=symbol,
                status=status,
            )
        content = response.content
        return content, self._decode(content, symbol=symbol, status=status)

    def _decode(self, content: bytes, *, symbol: str, status: int) -> Any:
        """The payload of a successful response: JSON, checked by :meth:`_check_payload`.

        Raising :class:`~volcast.errors.SourceError` fails at once (no retry);
        :class:`~volcast.errors.RetryableSourceError` retries.
        """
        try:
            payload = json.loads(content)
        except ValueError as exc:
            snippet = self.mask(content[:80].decode("utf-8", errors="replace"))
            raise SourceError(
                f"{self.name} returned malformed JSON for {symbol} ({exc.__class__.__name__}: "
                f"{exc}); body starts with {snippet!r}",
                provider=self.name,
                symbol=symbol,
                status=status,
            ) from None
        self._check_payload(payload, symbol=symbol, status=status)
        return payload

    def _check_payload(self, payload: Any, *, symbol: str, status: int) -> None:
        """Raise for a provider error reported inside a 2xx body (none by default)."""

    def _error_detail(self, response: httpx.Response) -> str:
        """A short, key-masked description of an error response body."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("msg", "message", "errorMessage", "Message", "Error Message", "error"):
                if key in body:
                    return self.mask(str(body[key]))
        text = response.text.strip()[:200] or response.reason_phrase
        return self.mask(text)

    def _bad_payload(
        self, what: str, *, symbol: str, status: int | str | None = None
    ) -> SourceError:
        """A SourceError for a well-formed JSON body that lacks the expected structure."""
        return SourceError(
            f"{self.name} returned an unexpected payload for {symbol}: {what}",
            provider=self.name,
            symbol=symbol,
            status=status,
        )
