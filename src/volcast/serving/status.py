"""What the status page shows of one series, read from the store and the served entry.

Forecast vs realized volatility comes from the stream worker's forecasts log
(``Layout.monitoring_forecasts``) when it holds rows, else from the champion's out-of-sample
rows in the stored backtest (``Layout.backtest_predictions``, with HAR's); events from
``Layout.monitoring_events``; drift, OOD and loss from the worker's summary when one runs,
else from this API's own drift window. These read small files on request (the page polls
every few seconds); the backtest, the largest, is cached per training run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from volcast.errors import VolcastError
from volcast.monitoring.events import Event
from volcast.schemas import TIMESTAMP, interval_seconds
from volcast.serving.entry import Entry
from volcast.serving.monitor import SeriesMonitor
from volcast.serving.status_schemas import (
    ChampionCard,
    EventItem,
    ForecastHistory,
    ForecastPoint,
    Indicator,
    Level,
    Origin,
    SeriesStatus,
)
from volcast.storage import Storage

log = logging.getLogger(__name__)

OOD_WARN = 1 / 3
"""The OOD indicator turns amber at this share of the detector's line (0.05 of 0.15); red
above the line itself, which ``VolcastOodRatioHigh`` (deploy/prometheus/rules) uses too."""
STALE_WARN_INTERVALS = 2
"""The ``DataStale`` alert's line: the latest bar older than two intervals."""
STALE_ALERT_INTERVALS = 4
_RANK: dict[Level, int] = {"info": 0, "ok": 1, "warn": 2, "alert": 3}


def worst(levels: list[Level]) -> Level:
    """The most severe of ``levels`` (info when empty)."""
    return max(levels, key=lambda level: _RANK[level], default="info")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _vol(values: pd.Series) -> list[float | None]:
    array = np.sqrt(np.clip(pd.to_numeric(values, errors="coerce").to_numpy(float), 0, None))
    return [float(v) if math.isfinite(v) else None for v in array]


def _stamp(seconds: float | None) -> datetime | None:
    return None if not seconds else datetime.fromtimestamp(seconds, tz=UTC)


_backtest_cache: dict[tuple[str, str], pd.DataFrame] = {}
_cache_lock = threading.Lock()


def _backtest(storage: Storage, entry: Entry) -> tuple[pd.DataFrame, str] | None:
    """The champion kind's out-of-sample rows (with HAR's as ``baseline_variance``)."""
    layout = entry.series.layout
    if not (storage.exists(layout.backtest_predictions) and storage.exists(layout.backtest_meta)):
        return None
    meta = storage.read_json(layout.backtest_meta)
    model = entry.model
    kind = model.kind if model is not None else None
    if kind is None and (model is None or meta.get("version") == model.version):
        kind = meta.get("challenger")  # the version the backtest was run for
    if not isinstance(kind, str):
        return None
    key = (layout.backtest_predictions, f"{meta.get('run_id')}:{meta.get('dataset_hash')}:{kind}")
    with _cache_lock:
        cached = _backtest_cache.get(key)
    if cached is None:
        frame = storage.read_parquet(layout.backtest_predictions)
        own = frame.loc[
            frame["model"] == kind, [TIMESTAMP, "forecast_variance", "realized_variance"]
        ]
        har = frame.loc[frame["model"] == "har", [TIMESTAMP, "forecast_variance"]]
        har = har.rename(columns={"forecast_variance": "baseline_variance"})
        cached = own.merge(har, on=TIMESTAMP, how="left").sort_values(TIMESTAMP)
        with _cache_lock:
            _backtest_cache.clear()  # one series' backtest at a time is enough for a page
            _backtest_cache[key] = cached
    return cached, kind


def forecast_history(storage: Storage, entry: Entry, *, limit: int) -> ForecastHistory:
    """The last ``limit`` bars of forecast, realized and HAR volatility."""
    layout = entry.series.layout
    synthetic = bool(entry.bars is not None and entry.bars.synthetic)
    frame: pd.DataFrame | None = None
    origin: Origin = "none"
    model: str | None = None
    try:
        if storage.exists(layout.monitoring_forecasts):
            frame = storage.read_parquet(layout.monitoring_forecasts)
            origin = "live"
            versions = frame["model_version"].dropna()
            model = f"v{int(versions.iloc[-1])}" if len(versions) else None
        if frame is None or frame.empty:
            found = _backtest(storage, entry)
            frame, origin, model = (
                (None, "none", None) if found is None else (found[0], "backtest", found[1])
            )
    except (VolcastError, OSError, ValueError, KeyError) as exc:  # torn or foreign file
        log.warning("cannot read the forecasts of %s: %s", entry.series, exc)
        frame, origin, model = None, "none", None
    points: list[ForecastPoint] = []
    if frame is not None and not frame.empty:
        tail = frame.dropna(subset=["forecast_variance"]).tail(limit)
        stamps = pd.to_datetime(tail[TIMESTAMP], utc=True)
        forecast = _vol(tail["forecast_variance"])
        realized = _vol(tail["realized_variance"])
        baseline = (
            _vol(tail["baseline_variance"]) if "baseline_variance" in tail else [None] * len(tail)
        )
        for stamp, f, r, b in zip(stamps, forecast, realized, baseline, strict=True):
            if f is not None:
                points.append(
                    ForecastPoint(
                        timestamp=stamp.to_pydatetime(), forecast=f, realized=r, baseline=b
                    )
                )
    return ForecastHistory(
        symbol=entry.symbol,
        interval=entry.interval,
        origin=origin if points else "none",
        model=model if points else None,
        synthetic=synthetic,
        points=points,
    )


def latest_events(storage: Storage, entry: Entry, *, limit: int) -> list[EventItem]:
    """The last ``limit`` events of the live loop, newest first (unreadable lines skipped)."""
    path = entry.series.layout.monitoring_events
    try:
        if not storage.exists(path):
            return []
        lines = storage.read_bytes(path).decode().splitlines()
    except (VolcastError, OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return []
    events: list[EventItem] = []
    for line in reversed(lines):
        if len(events) >= limit:
            break
        if not line.strip():
            continue
        try:
            event = Event.from_json(line)
        except VolcastError:
            continue
        events.append(
            EventItem(
                time=pd.Timestamp(event.time).to_pydatetime(),
                event=event.event,
                detail={str(k): v for k, v in event.detail.items()},
            )
        )
    return events


def champion_card(entry: Entry) -> ChampionCard:
    """The served model and its registry record (ModelUnavailableError when none)."""
    model = entry.require_model()
    record = model.record
    metrics = record.metrics if record is not None else {}
    baselines = {
        name.split(".", 1)[0]: value
        for name, value in metrics.items()
        if name.endswith(".qlike")
        and name.split(".", 1)[0] in ("persistence", "ewma", "garch", "har")
        and _finite(value) is not None
    }
    return ChampionCard(
        symbol=entry.symbol,
        interval=entry.interval,
        name=model.name,
        version=model.version,
        alias=model.alias,
        kind=model.kind or (record.kind if record is not None else None),
        run_id=model.run_id,
        loaded_at=datetime.fromtimestamp(model.loaded_at, tz=UTC),
        registered_at=_stamp(record.registered_at) if record is not None else None,
        decision=record.decision if record is not None else None,
        reason=record.reason if record is not None else None,
        decided_at=_stamp(record.decided_at) if record is not None else None,
        qlike=_finite(metrics.get("qlike")),
        baselines_qlike=baselines,
        promotion_qlike=_finite(metrics.get("promotion_challenger_qlike")),
        previous_champion_qlike=_finite(metrics.get("promotion_champion_qlike")),
    )


def _freshness(entry: Entry, now: float) -> Indicator:
    bars = entry.bars
    if bars is None:
        return Indicator(status="alert", value=None, text="no stored bars")
    age = max(0.0, now - bars.last_timestamp.timestamp())
    if not bars.live:
        kind = "synthetic sample" if bars.synthetic else "historical file"
        return Indicator(status="info", value=age, text=f"{kind}, not a live feed")
    step = interval_seconds(entry.interval)
    status: Level = "ok"
    if age > STALE_ALERT_INTERVALS * step:
        status = "alert"
    elif age > STALE_WARN_INTERVALS * step:
        status = "warn"
    return Indicator(status=status, value=age, text=f"latest bar {age / step:.1f} intervals old")


def series_status(
    entry: Entry, monitor: SeriesMonitor, *, now: float | None = None
) -> SeriesStatus:
    """Freshness, drift, OOD ratio and realized loss with their status colours."""
    live = monitor.live or {}
    drift = monitor.drift()
    freshness = _freshness(entry, time.time() if now is None else now)
    ood_status: Level = "ok"
    if drift.window == 0:
        ood_status = "info"
    elif drift.ood_ratio > drift.ood_threshold:
        ood_status = "alert"
    elif drift.ood_ratio >= OOD_WARN * drift.ood_threshold:
        ood_status = "warn"
    ood = Indicator(
        status=ood_status,
        value=_finite(drift.ood_ratio),
        text=(
            f"{drift.ood_ratio:.1%} of {drift.window} recent rows outside training "
            f"(line {drift.ood_threshold:.0%})"
        ),
    )
    n_drifted = len(drift.drifted_features)
    drift_indicator = Indicator(
        status="info" if drift.window == 0 else "warn" if drift.detected else "ok",
        value=float(n_drifted),
        text=", ".join(drift.drifted_features[:5]) if drift.detected else "no drift detected",
    )
    model_q = _finite(live.get("rolling_qlike"))
    har_q = _finite(live.get("rolling_qlike_baseline"))
    if model_q is None:
        loss = Indicator(status="info", value=None, text="no realized loss yet")
    else:
        decaying = bool(live.get("decay_detected"))
        status: Level = (
            "alert" if decaying else "warn" if har_q is not None and model_q > har_q else "ok"
        )
        versus = f" vs HAR {har_q:.3f}" if har_q is not None else ""
        loss = Indicator(
            status=status,
            value=model_q,
            text=f"rolling QLIKE {model_q:.3f}{versus}" + (" (decay detected)" if decaying else ""),
        )
    indicators = [freshness, drift_indicator, ood, loss]
    last_processed = live.get("last_processed")
    return SeriesStatus(
        symbol=entry.symbol,
        interval=entry.interval,
        synthetic=bool(entry.bars is not None and entry.bars.synthetic),
        worker=monitor.live is not None,
        status=worst([i.status for i in indicators]),
        freshness=freshness,
        drift=drift_indicator,
        ood=ood,
        loss=loss,
        last_bar=None if entry.bars is None else entry.bars.last_timestamp.to_pydatetime(),
        last_processed=pd.Timestamp(last_processed).to_pydatetime() if last_processed else None,
        drifted_features=list(drift.drifted_features),
        rolling_qlike=model_q,
        rolling_qlike_baseline=har_q,
        training_qlike=_finite(live.get("training_qlike")),
    )
