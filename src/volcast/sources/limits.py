"""Pacing requests to a provider: ``Retry-After`` parsing and the per-source rate limiter."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from volcast.errors import ConfigError

Sleep = Callable[[float], None]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class MinIntervalLimiter:
    """Keeps at least ``min_interval`` seconds between the starts of consecutive requests.

    Thread-safe; one limiter per source instance, so a long-running worker that reuses its
    source stays within the provider's limit. ``monotonic`` and ``sleep`` are injectable
    for tests.
    """

    def __init__(
        self,
        *,
        min_interval: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if min_interval < 0:
            raise ConfigError(f"min_interval must be >= 0, got {min_interval}")
        self.min_interval = min_interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: float | None = None

    def wait(self) -> float:
        """Block until the next request may start; returns the seconds waited."""
        with self._lock:
            now = self._monotonic()
            delay = 0.0 if self._last is None else self._last + self.min_interval - now
            if delay > 0:
                self._sleep(delay)
                now += delay
            self._last = now
            return max(delay, 0.0)
