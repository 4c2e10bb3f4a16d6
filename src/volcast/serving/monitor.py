"""Watching each served series: feeding the drift detector and the realized-loss tracker.

The detectors and the tracker live in :mod:`volcast.monitoring`; this module keeps one of
each per series, serialises access to them (requests run on several threads) and exports
their state to Prometheus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pandas as pd

from volcast.monitoring import DriftDetector, LossTracker, Scored
from volcast.registry.served import ServedModel
from volcast.series import Series
from volcast.serving import export
from volcast.serving.settings import ServingSettings


@dataclass(frozen=True)
class DriftState:
    """Input drift over the recent window of feature rows."""

    detected: bool = False
    ood_ratio: float = 0.0
    drifted_features: list[str] = field(default_factory=list)
    window: int = 0


class SeriesMonitor:
    """Drift detector, realized-loss tracker and the last bar fed, for one series."""

    def __init__(self, series: Series, settings: ServingSettings) -> None:
        self.series = series
        self.settings = settings
        self.losses = LossTracker(window=settings.feedback_window, memory=settings.forecast_memory)
        self._detector: DriftDetector | None = None
        self._detector_version: int | None = None
        self._seen_as_of: pd.Timestamp | None = None
        self._lock = threading.Lock()

    def observe(self, model: ServedModel, row: dict[str, float]) -> None:
        """Feed one feature row to the drift detector (a new one for a new model version)."""
        with self._lock:
            self._observe(model, row)

    def _observe(self, model: ServedModel, row: dict[str, float]) -> None:
        if self._detector is None or self._detector_version != model.version:
            self._detector = DriftDetector(
                model.reference_stats,
                features=model.feature_inputs,
                window=self.settings.drift_window,
                min_samples=self.settings.drift_min_samples,
            )
            self._detector_version = model.version
        self._detector.update(row)
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
            detector = self._detector
            if detector is None:
                return DriftState()
            return DriftState(
                detected=detector.drift_detected,
                ood_ratio=detector.ood_ratio,
                drifted_features=list(detector.drifted_features),
                window=detector.n_window,
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
                export.feedback_counted(self.series, self.losses)
        return scored
