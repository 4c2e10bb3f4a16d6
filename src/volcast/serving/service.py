"""The forecast service's state: latest bars, models, precomputed forecasts, drift, feedback.

Each stored instrument (``curated/<slug>/<interval>``) has one immutable :class:`Entry`: the
served model, an in-memory tail of the latest bars, the forecast for the latest bar and the
HAR baseline forecast. Background refreshes (:meth:`ForecastService.refresh_data` when the
curated meta's content hash changes, :meth:`ForecastService.refresh_models` when the
registry alias moves) build a new entry off the request path and swap it in with one
assignment, so a request sees either the old entry or the new one, never a mix, and nothing
on the request path reads a file or calls the registry. A forecast by symbol is then a
dictionary look-up; a forecast from explicit features scores one frame.

The bars are cleaned exactly as training cleans them (:func:`volcast.quality.clean_bars`,
isolated one-bar gaps forward-filled) and the latest forecast is made the way training made
its forecasts: features for the last ``history_bars`` complete rows, the model run through
all of them in time order, the last forecast kept. Sequential models (EWMA, GARCH, the
combination) carry state row to row, so scoring the last row alone would be wrong for them.

When the registry cannot be reached the last good model stays in service and
:meth:`ForecastService.readiness` reports the degradation.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from volcast.config import Params
from volcast.errors import (
    ConfigError,
    ModelError,
    ModelUnavailableError,
    NotFoundError,
    VolcastError,
)
from volcast.evaluation.folds import predict_block
from volcast.features import FeatureBuilder, build_dataset
from volcast.models import HarModel
from volcast.monitoring import DriftDetector
from volcast.quality import clean_bars
from volcast.schemas import TIMESTAMP, bars_per_year, interval_timedelta, slugify
from volcast.serving import metrics
from volcast.serving.holder import ModelLoader, ServedModel
from volcast.serving.settings import ServingSettings
from volcast.storage import Layout, Storage

log = logging.getLogger(__name__)

MIN_RATIO, MAX_RATIO = 1e-12, 1e12
"""Realized/forecast ratios outside these are unit mistakes, not forecast errors."""

Key = tuple[str, str]
"""(slug, interval)"""


@dataclass(frozen=True)
class Bars:
    """The latest stored bars of one instrument, as of one curated content hash."""

    content_hash: str
    frame: pd.DataFrame
    last_timestamp: pd.Timestamp
    live: bool
    synthetic: bool
    source: str | None
    truncated: bool = False
    """Whether older stored bars were left out of ``frame``."""


@dataclass(frozen=True)
class Forecast:
    """A variance forecast made at bar ``as_of`` for ``horizon`` bars ahead."""

    as_of: pd.Timestamp
    variance: float
    features: dict[str, float]


@dataclass(frozen=True)
class Entry:
    """Everything served for one instrument; replaced whole, never mutated."""

    symbol: str
    interval: str
    model: ServedModel | None = None
    model_error: str | None = None
    bars: Bars | None = None
    forecast: Forecast | None = None
    forecast_error: str | None = None
    baseline: float | None = None
    har: HarModel | None = None


@dataclass(frozen=True)
class Scored:
    """The outcome of one feedback: the forecasts scored, the QLIKE and the rolling QLIKE.

    ``duplicate`` is True when the bar had already been counted: the earlier outcome is
    returned (with the current rolling QLIKE) and nothing is counted again.
    """

    realized: float
    forecast: float
    baseline: float | None
    loss: float
    rolling: float
    duplicate: bool = False


@dataclass
class Tracker:
    """Per-instrument mutable monitoring state (drift window, feedback losses, memory)."""

    detector: DriftDetector | None = None
    detector_version: int | None = None
    seen_as_of: pd.Timestamp | None = None
    losses: dict[str, deque[float]] = field(default_factory=dict)
    memory: OrderedDict[pd.Timestamp, tuple[float, float | None]] = field(
        default_factory=OrderedDict
    )
    scored: OrderedDict[pd.Timestamp, Scored] = field(default_factory=OrderedDict)
    """Feedback already counted in ``losses``, by bar (bounded; oldest dropped first)."""


def qlike(realized: float, forecast: float) -> float:
    """QLIKE loss ``y/f - ln(y/f) - 1`` of a variance forecast (Patton 2011)."""
    ratio = realized / forecast
    return ratio - math.log(ratio) - 1.0


def annualize(variance: float, interval: str, *, horizon: int) -> tuple[float, float]:
    """Volatility and annualised volatility of a variance summed over ``horizon`` bars.

    The volatility is the square root of the variance as forecast (over the whole horizon);
    the annualised figure scales the per-bar variance ``variance / horizon`` to a year,
    ``sqrt(variance / horizon * bars_per_year)``, as the target's definition states.
    """
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1 bar, got {horizon}")
    variance = max(variance, 0.0)
    return math.sqrt(variance), math.sqrt(variance / horizon * bars_per_year(interval))


class ForecastService:
    """Holds an :class:`Entry` per stored instrument and keeps them fresh.

    Not an HTTP object: the API calls :meth:`resolve`, :meth:`entry`, :meth:`predict_features`
    and :meth:`feedback`; the app's background task calls :meth:`refresh_data` and
    :meth:`refresh_models`.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        loader: ModelLoader,
        params: Params,
        settings: ServingSettings,
    ) -> None:
        self.storage = storage
        self.loader = loader
        self.params = params
        self.settings = settings
        self.started_at = time.time()
        self._entries: dict[Key, Entry] = {}
        self._trackers: dict[Key, Tracker] = {}
        self._baselines: dict[tuple[Key, str], HarModel | None] = {}
        self._refresh_lock = threading.Lock()
        self._monitor_lock = threading.Lock()
        self.registry_ok: bool | None = None
        self.registry_error: str | None = None
        self.last_model_poll: float | None = None
        self.last_data_poll: float | None = None

    # ----- lookup (request path: memory only) -------------------------------------------------

    @property
    def entries(self) -> dict[Key, Entry]:
        """A snapshot of every instrument's entry."""
        return dict(self._entries)

    def resolve(self, symbol: str, interval: str | None) -> Entry:
        """The entry of ``symbol`` (any spelling with the same slug) and ``interval``.

        ``interval`` may be omitted when only one interval of the symbol is stored.
        """
        slug = slugify(symbol)
        intervals = sorted(i for s, i in self._entries if s == slug)
        if not intervals:
            known = sorted({e.symbol for e in self._entries.values()})
            raise NotFoundError(
                f"unknown symbol {symbol!r}; stored symbols: {known or 'none'}", symbol=symbol
            )
        if interval is None:
            if len(intervals) > 1:
                raise ConfigError(
                    f"symbol {symbol!r} is stored at several intervals {intervals}; pass interval",
                    symbol=symbol,
                )
            interval = intervals[0]
        entry = self._entries.get((slug, interval))
        if entry is None:
            raise NotFoundError(
                f"no data for {symbol!r} at interval {interval!r}; stored: {intervals}",
                symbol=symbol,
                interval=interval,
            )
        return entry

    def tracker(self, entry: Entry) -> Tracker:
        """The monitoring state of an entry's instrument."""
        key = (slugify(entry.symbol), entry.interval)
        found = self._trackers.get(key)
        if found is None:
            found = self._trackers.setdefault(key, Tracker())
        return found

    # ----- explicit features --------------------------------------------------------------------

    def predict_features(
        self, entry: Entry, rows: list[dict[str, float]], as_of: list[pd.Timestamp | None]
    ) -> tuple[np.ndarray, list[pd.Timestamp]]:
        """Score feature rows with the entry's model; feeds the drift window.

        ``as_of`` is each row's bar (its ``timestamp`` input). It may be None only when the
        model does not read the timestamp; it then defaults to the latest stored bar. Returns
        the forecasts and the bars they were made at. Raises ConfigError naming missing inputs
        (``as_of`` included) or when the model is sequential (its forecast depends on the
        rows before, which one feature row cannot carry), ModelError when it cannot score.
        """
        model = require_model(entry)
        if model.sequential:
            raise ConfigError(
                f"model {model.name} v{model.version} is sequential (its forecast depends on "
                "every earlier bar), so it cannot score explicit feature rows; omit `features` "
                "to forecast from the stored bars",
                symbol=entry.symbol,
                interval=entry.interval,
            )
        needed = model.feature_inputs
        stamps: list[pd.Timestamp] = []
        for index, stamp in enumerate(as_of):
            if stamp is None and model.uses_timestamp:
                raise ConfigError(
                    f"features lack the input `as_of` of model {model.name} v{model.version}: "
                    "it reads the bar's timestamp (seasonal terms); pass the bar as `as_of`",
                    symbol=entry.symbol,
                    interval=entry.interval,
                    item=index,
                )
            if stamp is None:
                stamp = (
                    entry.bars.last_timestamp
                    if entry.bars is not None
                    else pd.Timestamp.now(tz="UTC").floor(interval_timedelta(entry.interval))
                )
            stamps.append(stamp)
        for row in rows:
            missing = [name for name in needed if name not in row]
            if missing:
                shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
                raise ConfigError(
                    f"features lack {len(missing)} input(s) of model {model.name} "
                    f"v{model.version}: {shown}",
                    symbol=entry.symbol,
                    interval=entry.interval,
                )
        frame = pd.DataFrame({name: [row[name] for row in rows] for name in needed})
        frame.insert(0, TIMESTAMP, pd.DatetimeIndex(stamps))
        try:
            variance = model.predict(frame)
        except ModelError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ModelError(
                f"model {model.name} cannot score these features: {exc}",
                symbol=entry.symbol,
                interval=entry.interval,
            ) from exc
        for row in rows:
            self._observe(entry, model, row)
        return variance, stamps

    # ----- monitoring ---------------------------------------------------------------------------

    def _observe(self, entry: Entry, model: ServedModel, row: dict[str, float]) -> None:
        """Feed one feature row to the drift detector of the entry (reset on a new model)."""
        tracker = self.tracker(entry)
        with self._monitor_lock:
            if tracker.detector is None or tracker.detector_version != model.version:
                tracker.detector = DriftDetector(
                    model.reference_stats,
                    features=model.feature_inputs,
                    window=self.settings.drift_window,
                    min_samples=self.settings.drift_min_samples,
                )
                tracker.detector_version = model.version
            tracker.detector.update(row)
            self._export_drift(entry, tracker.detector)

    def _export_drift(self, entry: Entry, detector: DriftDetector) -> None:
        labels = (entry.symbol, entry.interval)
        metrics.OOD_RATIO.labels(*labels).set(detector.ood_ratio)
        metrics.DRIFT_DETECTED.labels(*labels).set(1.0 if detector.drift_detected else 0.0)
        for name, value in detector.mean_shift.items():
            metrics.FEATURE_MEAN_SHIFT.labels(*labels, name).set(value)
        for name, value in detector.psi.items():
            metrics.FEATURE_PSI.labels(*labels, name).set(value)

    def drift_state(self, entry: Entry) -> dict[str, Any]:
        """Drift flags of the entry's instrument for a response."""
        detector = self.tracker(entry).detector
        if detector is None:
            return {"detected": False, "ood_ratio": 0.0, "drifted_features": [], "window": 0}
        with self._monitor_lock:
            return {
                "detected": detector.drift_detected,
                "ood_ratio": detector.ood_ratio,
                "drifted_features": detector.drifted_features,
                "window": detector.n_window,
            }

    def feedback(self, entry: Entry, as_of: pd.Timestamp, realized: float) -> Scored:
        """Score the forecast made at ``as_of`` against a realized variance, once per bar.

        The forecast is taken from memory, else recomputed from the bars in memory with the
        current model; NotFoundError when neither has it. A bar already counted in this worker
        is not counted again: its earlier outcome comes back with ``duplicate=True``. The
        counted bars kept are at least the rolling window, so a bar forgotten has also left
        the rolling QLIKE.
        """
        tracker = self.tracker(entry)
        with self._monitor_lock:
            seen = tracker.scored.get(as_of)
            remembered = tracker.memory.get(as_of)
            if seen is not None:
                return self._duplicate(tracker, seen)
        if remembered is None:
            remembered = self._recompute(entry, as_of)
        forecast, baseline = remembered
        ratio = realized / forecast
        if not MIN_RATIO <= ratio <= MAX_RATIO:
            raise ConfigError(
                f"realized variance {realized!r} against the forecast {forecast!r} is off by more "
                "than 1e12 (no meaningful QLIKE); send the bar's variance in the forecast's units",
                symbol=entry.symbol,
                interval=entry.interval,
            )
        loss = qlike(realized, forecast)
        labels = (entry.symbol, entry.interval)
        window = self.settings.feedback_window
        with self._monitor_lock:
            seen = tracker.scored.get(as_of)
            if seen is not None:  # counted by a concurrent request meanwhile
                return self._duplicate(tracker, seen)
            model_losses = tracker.losses.setdefault("model", deque(maxlen=window))
            model_losses.append(loss)
            rolling = float(np.mean(model_losses))
            metrics.FORECAST_LOSS.labels(*labels, "model").set(rolling)
            if baseline is not None:
                har = tracker.losses.setdefault("har", deque(maxlen=window))
                if MIN_RATIO <= realized / baseline <= MAX_RATIO:
                    har.append(qlike(realized, baseline))
                metrics.FORECAST_LOSS.labels(*labels, "har").set(float(np.mean(har)))
            scored = Scored(realized, forecast, baseline, loss, rolling)
            tracker.scored[as_of] = scored
            while len(tracker.scored) > max(window, self.settings.forecast_memory):
                tracker.scored.popitem(last=False)
        metrics.FEEDBACK.labels(*labels).inc()
        return scored

    @staticmethod
    def _duplicate(tracker: Tracker, seen: Scored) -> Scored:
        """The earlier outcome of a bar, marked duplicate, with the current rolling QLIKE."""
        losses = tracker.losses.get("model")
        rolling = float(np.mean(losses)) if losses else seen.rolling
        return replace(seen, rolling=rolling, duplicate=True)

    def _recompute(self, entry: Entry, as_of: pd.Timestamp) -> tuple[float, float | None]:
        model = require_model(entry)
        bars = entry.bars
        if bars is not None:
            stamps = bars.frame[TIMESTAMP]
            position = int(pd.DatetimeIndex(stamps).searchsorted(as_of, side="right"))
            if position > 0 and stamps.iloc[position - 1] == as_of:
                history = bars.frame.iloc[:position]
                if len(history) >= model.builder.required_history:
                    forecast = _score_latest(model, history, rows=self.settings.history_bars)
                    return forecast.variance, None
        raise NotFoundError(
            f"no forecast of {entry.symbol} {entry.interval} at {as_of.isoformat()}: it is not "
            "among the bars in memory; feedback needs a bar the service has forecast from",
            symbol=entry.symbol,
            interval=entry.interval,
        )

    # ----- background refresh -------------------------------------------------------------------

    def _scan(self) -> dict[Key, dict[str, Any]]:
        """Curated meta of every stored instrument, by (slug, interval)."""
        found: dict[Key, dict[str, Any]] = {}
        for slug_dir in self.storage.list("curated"):
            for interval_dir in self.storage.list(slug_dir):
                meta_path = f"{interval_dir}/meta.json"
                if not self.storage.exists(meta_path):
                    continue
                meta = self.storage.read_json(meta_path)
                symbol, interval = meta.get("symbol"), meta.get("interval")
                if isinstance(symbol, str) and isinstance(interval, str):
                    found[(slugify(symbol), interval)] = meta
        return found

    def refresh_data(self) -> list[Key]:
        """Reload the bars of instruments whose curated content hash changed; returns them."""
        changed: list[Key] = []
        with self._refresh_lock:
            for key, meta in self._scan().items():
                entry = self._entries.get(key) or Entry(symbol=meta["symbol"], interval=key[1])
                digest = str(meta.get("content_hash"))
                if entry.bars is not None and entry.bars.content_hash == digest:
                    continue
                bars = self._read_bars(entry, meta, keep=self._keep(entry))
                if bars is None:
                    continue
                self._install(key, replace(entry, bars=bars))
                changed.append(key)
            self.last_data_poll = time.time()
        self.export_freshness()
        return changed

    def _keep(self, entry: Entry, model: ServedModel | None = None) -> int:
        """Bars to keep in memory: the history window plus the longest feature warm-up."""
        builder = FeatureBuilder(
            features=self.params.features, target=self.params.target, interval=entry.interval
        )
        required = builder.required_history
        for served in (entry.model, model):
            if served is not None:
                required = max(required, served.builder.required_history)
        return self.settings.history_bars + required

    def _read_bars(self, entry: Entry, meta: dict[str, Any], *, keep: int) -> Bars | None:
        """The cleaned tail of the stored curated bars (None when none are stored).

        Cleaned over the whole series, as training cleans it, then cut to ``keep`` bars.
        """
        layout = Layout(entry.symbol, entry.interval)
        frame = self.storage.read_parquet(layout.curated_bars)
        if frame.empty:
            return None
        cleaned = clean_bars(frame, interval=entry.interval)
        if cleaned.empty:
            return None
        tail = cleaned.tail(keep).reset_index(drop=True)
        return Bars(
            content_hash=str(meta.get("content_hash")),
            frame=tail,
            last_timestamp=pd.Timestamp(tail[TIMESTAMP].iloc[-1]),
            live=bool(meta.get("live", False)),
            synthetic=bool(meta.get("synthetic", False)),
            source=meta.get("source"),
            truncated=len(tail) < len(cleaned),
        )

    def refresh_models(self, *, force: bool = False) -> list[Key]:
        """Load a new version wherever the served alias moved (or every one when ``force``).

        A registry failure keeps every loaded model; it is recorded for ``/ready``.
        """
        swapped: list[Key] = []
        with self._refresh_lock:
            errors: list[str] = []
            for key, entry in list(self._entries.items()):
                try:
                    version = self.loader.current_version(entry.symbol, entry.interval)
                    if version is None:
                        if entry.model is None:
                            self._install(key, replace(entry, model_error=_no_alias(self, entry)))
                        continue
                    if not force and entry.model is not None and entry.model.version == version:
                        continue
                    model = self.loader.load(entry.symbol, entry.interval)
                except NotFoundError as exc:
                    if entry.model is None:
                        self._install(key, replace(entry, model_error=str(exc)))
                    continue
                except VolcastError as exc:
                    errors.append(str(exc))
                    if entry.model is None:
                        self._install(key, replace(entry, model_error=str(exc)))
                    continue
                bars = entry.bars
                keep = self._keep(entry, model)
                if bars is not None and bars.truncated and len(bars.frame) < keep:
                    # the new model needs a longer warm-up than the bars in memory cover
                    meta = self.storage.read_json(Layout(entry.symbol, entry.interval).curated_meta)
                    bars = self._read_bars(entry, meta, keep=keep) or bars
                self._install(key, replace(entry, model=model, model_error=None, bars=bars))
                swapped.append(key)
                log.info("serving %s v%s for %s %s", model.name, model.version, *key)
            self.registry_ok = not errors
            self.registry_error = "; ".join(errors) or None
            self.last_model_poll = time.time()
            metrics.REGISTRY_UP.set(1.0 if self.registry_ok else 0.0)
        return swapped

    def _install(self, key: Key, entry: Entry) -> None:
        """Recompute the entry's forecast and baseline, then swap it in (one assignment)."""
        old = self._entries.get(key)
        if entry.model is not None and entry.bars is not None:
            try:
                forecast = _score_latest(
                    entry.model, entry.bars.frame, rows=self.settings.history_bars
                )
                har = self._har(key, entry.model, entry.bars)
                entry = replace(
                    entry,
                    forecast=forecast,
                    forecast_error=None,
                    har=har,
                    baseline=_har_last(har, entry.model, entry.bars.frame),
                )
            except (VolcastError, ValueError, ArithmeticError) as exc:
                entry = replace(entry, forecast=None, forecast_error=str(exc))
        else:
            entry = replace(entry, forecast=None)
        self._entries[key] = entry
        if (
            old is not None
            and old.model is not None
            and (entry.model is None or old.model.version != entry.model.version)
        ):
            metrics.MODEL_INFO.labels(
                entry.symbol,
                entry.interval,
                old.model.name,
                str(old.model.version),
                old.model.run_id,
            ).set(0.0)
        if entry.model is not None:
            model = entry.model
            metrics.MODEL_VERSION.labels(
                entry.symbol, entry.interval, model.name, model.alias or ""
            ).set(model.version)
            metrics.MODEL_INFO.labels(
                entry.symbol, entry.interval, model.name, str(model.version), model.run_id
            ).set(1.0)
        if entry.forecast is not None and entry.model is not None:
            metrics.PREDICTION_VARIANCE.labels(entry.symbol, entry.interval).set(
                entry.forecast.variance
            )
            tracker = self.tracker(entry)
            with self._monitor_lock:
                tracker.memory[entry.forecast.as_of] = (entry.forecast.variance, entry.baseline)
                while len(tracker.memory) > self.settings.forecast_memory:
                    tracker.memory.popitem(last=False)
            if tracker.seen_as_of != entry.forecast.as_of or (
                tracker.detector_version != entry.model.version
            ):
                tracker.seen_as_of = entry.forecast.as_of
                self._observe(entry, entry.model, entry.forecast.features)

    def _har(self, key: Key, model: ServedModel, bars: Bars) -> HarModel | None:
        """HAR baseline fitted on the bars in memory, once per content hash (None if it cannot)."""
        cache_key = (key, bars.content_hash)
        if cache_key in self._baselines:
            return self._baselines[cache_key]
        builder = model.builder
        har: HarModel | None
        try:
            data = build_dataset(
                bars.frame,
                features=builder.features,
                target=builder.target,
                interval=builder.interval,
            )
            names = builder.feature_names
            train = data.dropna(subset=[*names, "target"])
            har = HarModel(interval=builder.interval, horizon=builder.target.horizon)
            har.fit(train.drop(columns=["target"]), train["target"])
        except (VolcastError, ValueError, KeyError, np.linalg.LinAlgError) as exc:
            log.warning("HAR baseline unavailable for %s %s: %s", *key, exc)
            har = None
        self._baselines = {k: v for k, v in self._baselines.items() if k[0] != key}
        self._baselines[cache_key] = har
        return har

    def baseline_for(
        self, entry: Entry, rows: list[dict[str, float]], as_of: list[pd.Timestamp]
    ) -> list[float | None]:
        """HAR forecasts for explicit feature rows (None where the rows lack its inputs)."""
        har = entry.har
        if har is None or not rows or any(c not in rows[0] for c in har.columns_):
            return [None] * len(rows)
        frame = pd.DataFrame({c: [row.get(c, math.nan) for row in rows] for c in har.columns_})
        frame.insert(0, TIMESTAMP, pd.DatetimeIndex(as_of))
        try:
            return [float(v) for v in har.predict(frame)]
        except (VolcastError, ValueError, ArithmeticError):
            return [None] * len(rows)

    def export_freshness(self) -> None:
        """Set the data-freshness gauges of every instrument (age of its latest bar)."""
        now = time.time()
        for entry in list(self._entries.values()):
            if entry.bars is None:
                continue
            last = entry.bars.last_timestamp.timestamp()
            metrics.DATA_LAST_BAR.labels(entry.symbol, entry.interval).set(last)
            metrics.DATA_AGE.labels(entry.symbol, entry.interval).set(now - last)

    # ----- readiness ----------------------------------------------------------------------------

    def is_stale(self, entry: Entry) -> bool:
        """Live data whose last bar is older than ``quality.max_staleness_bars`` intervals."""
        if entry.bars is None or not entry.bars.live:
            return False
        age = pd.Timestamp.now(tz="UTC") - entry.bars.last_timestamp
        return bool(
            age > interval_timedelta(entry.interval) * self.params.quality.max_staleness_bars
        )

    def readiness(self) -> tuple[bool, list[str]]:
        """Whether at least one instrument can be forecast, and every degradation found."""
        reasons: list[str] = []
        servable = 0
        if not self._entries:
            reasons.append("no curated bars in the data store; run `volcast pipeline` first")
        for entry in self._entries.values():
            name = f"{entry.symbol} {entry.interval}"
            if entry.model is None:
                reasons.append(f"{name}: no model ({entry.model_error or 'not loaded yet'})")
            elif entry.forecast is None:
                reasons.append(f"{name}: cannot forecast ({entry.forecast_error})")
            else:
                servable += 1
            if self.is_stale(entry):
                reasons.append(f"{name}: data stale (last bar {entry.bars.last_timestamp})")  # type: ignore[union-attr]
        if self.registry_ok is False:
            reasons.append(
                f"model registry unreachable, serving the last good models: {self.registry_error}"
            )
        return servable > 0, reasons


def _no_alias(service: ForecastService, entry: Entry) -> str:
    return (
        f"no '{service.settings.alias}' alias on volcast-{slugify(entry.symbol)}-{entry.interval}"
    )


def require_model(entry: Entry) -> ServedModel:
    """The entry's model, or a ModelUnavailable error with the reason."""
    if entry.model is None:
        raise ModelUnavailableError(
            f"no model in service for {entry.symbol} {entry.interval}: "
            f"{entry.model_error or 'not loaded yet'}",
            symbol=entry.symbol,
            interval=entry.interval,
        )
    return entry.model


def _har_last(har: HarModel | None, model: ServedModel, bars: pd.DataFrame) -> float | None:
    """The HAR forecast at the last bar."""
    if har is None:
        return None
    row = model.builder.transform_last(bars)
    frame = pd.DataFrame({c: [float(row.get(c, math.nan))] for c in har.columns_})
    as_of = pd.Timestamp(row.name)  # type: ignore[arg-type]
    frame.insert(0, TIMESTAMP, pd.DatetimeIndex([as_of]))
    try:
        return float(har.predict(frame)[0])
    except (VolcastError, ValueError, ArithmeticError):
        return None


def _score_latest(model: ServedModel, bars: pd.DataFrame, *, rows: int) -> Forecast:
    """Forecast at the last bar, made as training makes it.

    Builds the dataset rows (features and ``rv``) of ``bars`` with the model's feature
    builder, keeps the last ``rows`` complete ones (after the warm-up) and runs the model
    through them in time order; the last forecast is the answer. A row-wise model scores only
    the last row. ``bars`` are cleaned bars (:func:`volcast.quality.clean_bars`).
    """
    builder = model.builder
    data = build_dataset(
        bars.tail(rows + builder.required_history),
        features=builder.features,
        target=builder.target,
        interval=builder.interval,
    ).drop(columns=["target"])
    last = data.iloc[-1]
    values = {name: float(last[name]) for name in model.feature_inputs if name in data.columns}
    missing = [n for n in model.feature_inputs if not math.isfinite(values.get(n, math.nan))]
    if missing:
        raise ModelError(
            f"the latest {len(bars)} bars leave {len(missing)} model input(s) incomplete "
            f"({', '.join(missing[:5])}); the model needs {builder.required_history} bars",
            symbol=model.symbol,
            interval=model.interval,
        )
    complete = data.iloc[builder.warmup_bars :].tail(rows)
    complete = complete[complete[model.feature_inputs].notna().all(axis=1)].reset_index(drop=True)
    variance = float(predict_block(model, complete, len(complete) - 1, len(complete))[0])
    as_of = pd.Timestamp(last[TIMESTAMP])
    return Forecast(as_of=as_of, variance=variance, features=values)
