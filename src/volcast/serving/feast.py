"""Forecasts from online features of the Feast feature server (``VOLCAST_SERVE_FEATURES=feast``).

Instead of computing the latest bar's features from the bars in memory, the service reads the
series' online row from ``feast serve`` over HTTP (:class:`~volcast.featurestore.OnlineClient`),
checks it with the freshness guard (:func:`~volcast.featurestore.refusal`: Feast itself does
not enforce TTL online) and scores it. When the row is refused, or the feature server or its
online store (Redis) is down, the forecast falls back to the features computed from bars, and
says so: a warning in the log when the reason changes, the ``feast_fallback`` mode label of
``volcast_predictions_total``, and the reason in ``/ready`` (status ``degraded``). A stale row
is never served silently.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pandas as pd

from volcast.errors import FeatureStoreError, VolcastError
from volcast.featurestore import FeatureStoreSettings, OnlineClient, refusal
from volcast.series import Series
from volcast.serving.entry import Entry
from volcast.serving.scoring import score_features

log = logging.getLogger(__name__)

FALLBACK = "serving features computed from bars"


@dataclass(frozen=True)
class OnlineForecast:
    """A forecast scored from the online row of bar ``as_of``."""

    as_of: pd.Timestamp
    variance: float


class FeastFeatures:
    """Reads, guards and scores online rows; remembers each series' last outcome for /ready."""

    def __init__(self, settings: FeatureStoreSettings, client: OnlineClient | None = None) -> None:
        self.settings = settings
        self.client = client or OnlineClient(settings.url, timeout=settings.timeout_seconds)
        self._reasons: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def forecast(self, entry: Entry) -> OnlineForecast | None:
        """The forecast from the online row; None (reason recorded) to fall back to bars."""
        model = entry.require_model()
        if entry.bars is None:
            return self._fallback(entry.series, f"{entry.series}: no bars in memory")
        if model.sequential:
            return self._fallback(
                entry.series,
                f"{entry.series}: model {model.name} v{model.version} is sequential (its "
                "forecast needs every earlier bar, not one feature row)",
            )
        needed = model.feature_inputs
        try:
            row = self.client.read(entry.series, needed)
        except FeatureStoreError as exc:
            return self._fallback(entry.series, f"{entry.series}: feature store unavailable: {exc}")
        reason = refusal(
            entry.series,
            event_time=row.event_time,
            values=row.values,
            needed=needed,
            latest_bar=entry.bars.last_timestamp,
            live=entry.bars.live,
            now=pd.Timestamp.now(tz="UTC"),
            max_lag_bars=self.settings.max_lag_bars,
            ttl_bars=self.settings.ttl_bars,
        )
        if reason is not None or row.event_time is None:
            return self._fallback(entry.series, reason or f"{entry.series}: no online row")
        values = {name: float(row.values[name] or 0.0) for name in needed}
        try:
            variance = float(score_features(model, [values], [row.event_time])[0])
        except VolcastError as exc:
            return self._fallback(entry.series, f"{entry.series}: online row not scorable: {exc}")
        self._record(entry.series, None)
        return OnlineForecast(row.event_time, variance)

    def reasons(self) -> list[str]:
        """Why series are served from bars instead of the feature store, for /ready."""
        with self._lock:
            return [f"{reason}; {FALLBACK}" for reason in self._reasons.values() if reason]

    def close(self) -> None:
        self.client.close()

    def _fallback(self, series: Series, reason: str) -> OnlineForecast | None:
        """Record why ``series`` falls back to bars; always None (no online forecast)."""
        self._record(series, reason)
        return None

    def _record(self, series: Series, reason: str | None) -> None:
        with self._lock:
            before = self._reasons.get(series.key, "unset")
            self._reasons[series.key] = reason
        if reason != before:
            if reason is None:
                log.info("feature store: serving %s from online features", series)
            else:
                log.warning("feature store: %s; %s", reason, FALLBACK)
