"""Prometheus export of the service's state: every gauge and counter set in one place.

The metric definitions (and their multi-worker handling) live in
:mod:`volcast.serving.metrics`; the service calls these functions when its state changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from prometheus_client import Gauge

from volcast.monitoring import DriftDetector, LossTracker
from volcast.monitoring.loss import HAR, MODEL
from volcast.registry.served import ServedModel
from volcast.series import Series
from volcast.serving import metrics
from volcast.serving.entry import Entry


def model_swapped(series: Series, old: ServedModel | None, new: ServedModel | None) -> None:
    """Mark the model info of ``old`` off and the version and info of ``new`` on."""
    labels = (series.symbol, series.interval)
    if old is not None and (new is None or old.version != new.version):
        metrics.MODEL_INFO.labels(*labels, old.name, str(old.version), old.run_id).set(0.0)
    if new is not None:
        metrics.MODEL_VERSION.labels(*labels, new.name, new.alias or "").set(new.version)
        metrics.MODEL_INFO.labels(*labels, new.name, str(new.version), new.run_id).set(1.0)


def forecast_made(series: Series, variance: float) -> None:
    """The variance of the latest precomputed forecast."""
    metrics.PREDICTION_VARIANCE.labels(series.symbol, series.interval).set(variance)


def drift(series: Series, detector: DriftDetector) -> None:
    """Out-of-distribution ratio and its line, drift flag, and per-feature mean shift and PSI."""
    labels = (series.symbol, series.interval)
    metrics.OOD_RATIO.labels(*labels).set(detector.ood_ratio)
    metrics.OOD_THRESHOLD.labels(*labels).set(detector.ood_threshold)
    metrics.DRIFT_DETECTED.labels(*labels).set(1.0 if detector.drift_detected else 0.0)
    for name, value in detector.mean_shift.items():
        metrics.FEATURE_MEAN_SHIFT.labels(*labels, name).set(value)
    for name, value in detector.psi.items():
        metrics.FEATURE_PSI.labels(*labels, name).set(value)


def feedback_counted(series: Series, tracker: LossTracker, *, losses: bool = True) -> None:
    """One more feedback, and (``losses``) the rolling QLIKE of the model and of HAR."""
    labels = (series.symbol, series.interval)
    for forecaster in (MODEL, HAR) if losses else ():
        rolling = tracker.rolling(forecaster)
        if rolling is not None:
            metrics.FORECAST_LOSS.labels(*labels, forecaster).set(rolling)
    metrics.FEEDBACK.labels(*labels).inc()


_FROM_STATE: set[tuple[int, tuple[str, ...]]] = set()
"""(gauge, labels) that :func:`live_state` has set in this process."""


def _set(gauge: Gauge, labels: tuple[str, ...], value: Any) -> None:
    """Set a gauge from the stream state; a value the state no longer has (None, e.g. the
    rolling loss of a champion with no realized bar yet) becomes NaN, not the last one."""
    if isinstance(value, bool):
        value = float(value)
    key = (id(gauge), labels)
    if isinstance(value, int | float):
        gauge.labels(*labels).set(float(value))
        _FROM_STATE.add(key)
    elif value is None and key in _FROM_STATE:
        gauge.labels(*labels).set(math.nan)


def live_state(series: Series, summary: Mapping[str, Any]) -> None:
    """Every gauge of the stream worker's state summary (``state.json``) of ``series``.

    Every API worker reads the same file, so every worker exports the same values.
    """
    labels = (series.symbol, series.interval)
    _set(metrics.OOD_RATIO, labels, summary.get("ood_ratio"))
    _set(metrics.OOD_THRESHOLD, labels, summary.get("ood_threshold"))
    _set(metrics.DRIFT_DETECTED, labels, bool(summary.get("drift_detected")))
    for name, value in (summary.get("psi") or {}).items():
        _set(metrics.FEATURE_PSI, (*labels, name), value)
    for name, value in (summary.get("feature_mean_shift") or {}).items():
        _set(metrics.FEATURE_MEAN_SHIFT, (*labels, name), value)
    _set(metrics.FORECAST_LOSS, (*labels, MODEL), summary.get("rolling_qlike"))
    _set(metrics.FORECAST_LOSS, (*labels, HAR), summary.get("rolling_qlike_baseline"))
    _set(metrics.FORECAST_TRAINING_LOSS, labels, summary.get("training_qlike"))
    for target, state in (summary.get("targets") or {}).items():
        for loss, by in ((state or {}).get("loss") or {}).items():
            for forecaster, value in (by or {}).items():
                _set(metrics.TARGET_FORECAST_LOSS, (*labels, target, loss, forecaster), value)
    for detector, prefix in (("surprise", "decay"), ("relative", "relative")):
        _set(metrics.DECAY_STATISTIC, (*labels, detector), summary.get(f"{prefix}_statistic"))
        _set(metrics.DECAY_THRESHOLD, (*labels, detector), summary.get(f"{prefix}_threshold"))
    _set(metrics.DECAY_DETECTED, labels, bool(summary.get("decay_detected")))
    _set(metrics.LEVEL_SHIFT, labels, summary.get("level_statistic"))
    _set(metrics.LEVEL_THRESHOLD, labels, summary.get("level_threshold"))
    for event, count in (summary.get("events") or {}).items():
        _set(metrics.MONITORING_EVENTS, (*labels, event), count)
    last = summary.get("last_processed")
    if last:
        _set(metrics.MONITORING_LAST_BAR, labels, pd.Timestamp(last).timestamp())


def freshness(entries: Iterable[Entry]) -> None:
    """The timestamp and age of every series' latest bar."""
    now = time.time()
    for entry in entries:
        if entry.bars is None:
            continue
        last = entry.bars.last_timestamp.timestamp()
        metrics.DATA_LAST_BAR.labels(entry.symbol, entry.interval).set(last)
        metrics.DATA_AGE.labels(entry.symbol, entry.interval).set(now - last)


def registry_up(up: bool) -> None:
    """Whether the last registry poll succeeded."""
    metrics.REGISTRY_UP.set(1.0 if up else 0.0)


def prediction(series: Series, mode: str) -> None:
    """One forecast returned (``mode``: ``bars``, ``features``, ``feast`` or ``feast_fallback``)."""
    metrics.PREDICTIONS.labels(series.symbol, series.interval, mode).inc()


def prediction_error(symbol: str, interval: str, error: Exception) -> None:
    """One forecast request failed after validation."""
    metrics.PREDICTION_ERRORS.labels(symbol, interval, type(error).__name__).inc()
