"""Prometheus metrics of the forecast service, correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set *before* ``prometheus_client`` is imported (``volcast
serve --workers N`` does it), every worker writes its samples to memory-mapped files in that
directory and ``/metrics`` merges them with ``MultiProcessCollector``: counters and
histograms sum over workers, gauges keep the most recent value of a live worker
(``livemostrecent``). Live-gauge files of dead workers are removed by :func:`sweep_dead_workers`
(called at start-up and on every background tick) and by each worker on shutdown.
Without the variable the process-wide default registry is used.
"""

from __future__ import annotations

import glob
import os
import re
import time
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
_LATEST: Final = "livemostrecent"
_PID_FILE_RE: Final = re.compile(r"_(\d+)\.db$")

API_REQUESTS = Counter(
    "api_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
)
API_LATENCY = Histogram(
    "api_request_latency_seconds",
    "Time from request to response, by method and route template.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PREDICTIONS = Counter(
    "predictions",
    "Forecasts returned, by symbol, interval and input mode (symbol or features).",
    ["symbol", "interval", "mode"],
)
PREDICTION_ERRORS = Counter(
    "prediction_errors",
    "Forecast requests that failed after validation, by symbol, interval and reason.",
    ["symbol", "interval", "reason"],
)
UPTIME = Gauge(
    "service_uptime_seconds",
    "Seconds since the longest-running live worker started.",
    multiprocess_mode="livemax",
)
OOD_RATIO = Gauge(
    "out_of_distribution_ratio",
    "Share of recent feature rows outside the training range, per symbol and interval.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
OOD_THRESHOLD = Gauge(
    "out_of_distribution_threshold",
    "The out-of-distribution ratio above which the drift detector alarms, per symbol and "
    "interval: the stream worker's line (the larger of monitoring.ood_threshold and what the "
    "champion's training history reaches), or the API's own 0.15 without a worker.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
FEATURE_MEAN_SHIFT = Gauge(
    "feature_mean_shift",
    "Recent mean of a feature minus its training mean, in training standard deviations.",
    ["symbol", "interval", "feature"],
    multiprocess_mode=_LATEST,
)
FEATURE_PSI = Gauge(
    "feature_psi",
    "Population stability index of a feature over the recent window.",
    ["symbol", "interval", "feature"],
    multiprocess_mode=_LATEST,
)
DRIFT_DETECTED = Gauge(
    "drift_detected",
    "1 when the drift detector of a symbol flags input drift, else 0.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
PREDICTION_VARIANCE = Gauge(
    "prediction_variance",
    "Latest next-bar variance forecast, per symbol and interval.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
DATA_AGE = Gauge(
    "data_freshness_seconds",
    "Age of the latest stored bar (now minus its close time), per symbol and interval.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
DATA_LAST_BAR = Gauge(
    "data_last_bar_timestamp_seconds",
    "Unix time of the latest stored bar, per symbol and interval.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
MODEL_VERSION = Gauge(
    "model_version",
    "Registry version of the model in service, per symbol and interval.",
    ["symbol", "interval", "model", "alias"],
    multiprocess_mode=_LATEST,
)
MODEL_INFO = Gauge(
    "model_info",
    "1 for the model version in service (0 for versions it replaced).",
    ["symbol", "interval", "model", "version", "run_id"],
    multiprocess_mode=_LATEST,
)
REGISTRY_UP = Gauge(
    "model_registry_up",
    "1 when the last poll of the model registry succeeded, else 0.",
    multiprocess_mode=_LATEST,
)
FEEDBACK = Counter(
    "feedback",
    "Realized values received on /feedback, by symbol and interval.",
    ["symbol", "interval"],
)
FORECAST_LOSS = Gauge(
    "forecast_loss_qlike",
    "Rolling mean QLIKE of realized vs forecast variance (from /feedback), by forecaster.",
    ["symbol", "interval", "forecaster"],
    multiprocess_mode=_LATEST,
)

TARGET_FORECAST_LOSS = Gauge(
    "forecast_loss_target",
    "Rolling mean realized loss of the return and direction champions in the stream worker "
    "(log_loss and brier for direction, squared_error for return), by forecaster: the model "
    "or its baseline (base_rate, zero).",
    ["symbol", "interval", "target", "loss", "forecaster"],
    multiprocess_mode=_LATEST,
)

FORECAST_TRAINING_LOSS = Gauge(
    "forecast_loss_training_qlike",
    "The champion's out-of-sample QLIKE in its backtest: the level its realized loss is "
    "judged against (from the stream worker's state).",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
DECAY_STATISTIC = Gauge(
    "decay_statistic",
    "CUSUM statistic of a decay detector of the stream worker (surprise: the champion "
    "against its own level; relative: its QLIKE against HAR's).",
    ["symbol", "interval", "detector"],
    multiprocess_mode=_LATEST,
)
DECAY_THRESHOLD = Gauge(
    "decay_threshold",
    "Alarm line of a decay detector (calibrated on the champion's backtest).",
    ["symbol", "interval", "detector"],
    multiprocess_mode=_LATEST,
)
LEVEL_SHIFT = Gauge(
    "volatility_level_shift",
    "Mean log realized variance of the last bars less what the stream worker's level "
    "regression predicted for it (its volatility-level step detector).",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
LEVEL_THRESHOLD = Gauge(
    "volatility_level_threshold",
    "Upward alarm line of the volatility-level step detector (from the training history).",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
DECAY_DETECTED = Gauge(
    "decay_detected",
    "1 when a decay detector of the stream worker is alarming, else 0.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)
MONITORING_EVENTS = Gauge(
    "monitoring_events",
    "Events in the series' events.jsonl, by kind (retrain_failed: retrains that failed).",
    ["symbol", "interval", "event"],
    multiprocess_mode=_LATEST,
)
MONITORING_LAST_BAR = Gauge(
    "monitoring_last_bar_timestamp_seconds",
    "Unix time of the last bar the stream worker processed.",
    ["symbol", "interval"],
    multiprocess_mode=_LATEST,
)

_STARTED = time.monotonic()


def multiprocess_dir() -> str | None:
    """The multiprocess directory when multiprocess mode is on, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def update_uptime() -> None:
    """Set ``service_uptime_seconds`` for this worker."""
    UPTIME.set(time.monotonic() - _STARTED)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_workers() -> list[int]:
    """Mark every worker whose live-gauge files remain but whose process is gone as dead.

    Returns the pids marked. A no-op outside multiprocess mode.
    """
    path = multiprocess_dir()
    if path is None:
        return []
    dead: set[int] = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _PID_FILE_RE.search(name)
        if match is not None and not _pid_alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in sorted(dead):
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            pid, path
        )
    return sorted(dead)


def mark_self_dead() -> None:
    """On a worker's shutdown: drop its live gauges from the merged view."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            os.getpid(), path
        )


def render() -> bytes:
    """The exposition text: merged over workers in multiprocess mode."""
    update_uptime()
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
