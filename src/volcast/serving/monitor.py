"""Watching each served series: feeding the drift detector and the realized-loss tracker.

The detectors and the tracker live in :mod:`volcast.monitoring`; this module keeps one of
each per series, serialises access to them (requests run on several threads) and exports
their state to Prometheus.

When a stream worker runs the series (``volcast stream``), its state summary
(``monitoring/<slug>/<interval>/state.json``, read by :func:`read_live` on every data poll)
is the source of the drift and loss gauges and of the drift flags in responses: the worker
sees every bar, and every API worker then exports the same values. This module's own
detector and loss window are the fallback for series no stream worker watches.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from volcast.errors import VolcastError
from volcast.features import CALENDAR_FEATURES
from volcast.monitoring import DriftDetector, LossTracker, Scored
from volcast.registry.served import ServedModel
from volcast.series import Series
from volcast.serving import export
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage

log = logging.getLogger(__name__)


def read_live(storage: Storage, series: Series) -> dict[str, Any] | None:
    """The stream worker's state summary of ``series`` (None when no worker wrote one)."""
    path = series.layout.monitoring_summary
    try:
        if not storage.exists(path):
            return None
        summary = storage.read_json(path)
    except (VolcastError, OSError, ValueError) as exc:  # mid-replace on some stores, or torn
        log.warning("cannot read %s: %s", path, exc)
        return None
    return summary if isinstance(summary, dict) else None


@dataclass(frozen=True)
class DriftState:
    """Input drift over the recent window of feature rows."""

    detected: bool = False
    ood_ratio: float = 0.0
    drifted_features: list[str] = field(default_factory=list)
    window: int = 0
    ood_threshold: float = 0.15
    """The OOD line of the detector (the stream worker's comes from the training history)."""


class SeriesMonitor:
    """Drift detector, realized-loss tracker and the last bar fed, for one series."""

    def __init__(self, series: Series, settings: ServingSettings) -> None:
        self.series = series
        self.settings = settings
        self.losses = LossTracker(window=settings.feedback_window, memory=settings.forecast_memory)
        self._detector: DriftDetector | None = None
        self._detector_version: int | None = None
        self._seen_as_of: pd.Timestamp | None = None
        self._live: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def set_live(self, summary: dict[str, Any] | None) -> None:
        """The stream worker's latest summary (None: no worker watches this series)."""
        with self._lock:
            self._live = summary
            if summary is not None:
                export.live_state(self.series, summary)

    @property
    def live(self) -> dict[str, Any] | None:
        """The stream worker's latest summary, if any."""
        return self._live

    def observe(self, model: ServedModel, row: dict[str, float]) -> None:
        """Feed one feature row to the drift detector (a new one for a new model version)."""
        with self._lock:
            self._observe(model, row)

    def _observe(self, model: ServedModel, row: dict[str, float]) -> None:
        if self._detector is None or self._detector_version != model.version:
            self._detector = DriftDetector(
                model.reference_stats,
                features=[n for n in model.feature_inputs if n not in CALENDAR_FEATURES],
                window=self.settings.drift_window,
                min_samples=self.settings.drift_min_samples,
            )
            self._detector_version = model.version
        self._detector.update(row)
        if self._live is None:
            export.drift(self.series, self._detector)

    def forecast_made(
        self,
        model: ServedModel,
        as_of: pd.Timestamp,
        variance: float,
        baseline: float | None,
        features: dict[str, float],
    ) -> None:
        """Remember a precomputed forecast; feed its features once per bar and model."""
        export.forecast_made(self.series, variance)
        with self._lock:
            self.losses.remember(as_of, variance, baseline)
            if self._seen_as_of != as_of or self._detector_version != model.version:
                self._seen_as_of = as_of
                self._observe(model, features)

    def drift(self) -> DriftState:
        """The drift flags for a response."""
        with self._lock:
            live, detector = self._live, self._detector
            if live is not None:
                return DriftState(
                    detected=bool(live.get("drift_detected")),
                    ood_ratio=float(live.get("ood_ratio") or 0.0),
                    drifted_features=list(live.get("drifted_features") or []),
                    window=int(live.get("drift_window") or 0),
                    ood_threshold=float(live.get("ood_threshold") or 0.15),
                )
            if detector is None:
                return DriftState()
            return DriftState(
                detected=detector.drift_detected,
                ood_ratio=detector.ood_ratio,
                drifted_features=list(detector.drifted_features),
                window=detector.n_window,
                ood_threshold=detector.ood_threshold,
            )

    def remembered(self, as_of: pd.Timestamp) -> Scored | tuple[float, float | None] | None:
        """The earlier outcome of ``as_of`` if counted, else its remembered forecast, else None."""
        with self._lock:
            seen = self.losses.seen(as_of)
            if seen is not None:
                return seen
            return self.losses.forecast_at(as_of)

    def score(
        self, as_of: pd.Timestamp, realized: float, forecast: float, baseline: float | None
    ) -> Scored:
        """Count the loss of the forecast of ``as_of`` once (see :class:`LossTracker`)."""
        with self._lock:
            scored = self.losses.score(as_of, realized, forecast, baseline)
            if scored.counted and not scored.duplicate:
                export.feedback_counted(self.series, self.losses, losses=self._live is None)
        return scored
