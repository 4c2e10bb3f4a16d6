"""The live loop of one series (SPEC 18): new bar -> gate -> curated -> forecast -> monitor.

:class:`StreamWorker` waits on its clock for each bar, fetches it through the same
``ingest``/``validate`` stages as the batch pipeline (so the same gate and curated merge), and
then processes every curated bar it has not processed yet, in order:

1. the forecasts made for that bar are realized (the target of the bar they were made at,
   computed by :func:`volcast.features.target.build_target`, the training target) and fed to
   the :class:`~volcast.monitoring.monitor.SeriesMonitor` with the bar's feature row;
2. the champion's forecast for the next bar and the HAR baseline's are logged;
3. when the monitor's retrain trigger fires, the ``retrain`` callback trains and promotes;
   a new champion is then picked up and the monitor rebased on it.

The return and direction champions, when the series has them, are realized and logged next
to it (:mod:`volcast.pipeline.target_watch`, ``forecasts-<target>.parquet``, their rolling
losses in the state).

Events go to ``events.jsonl``, the forecast rows to ``forecasts.parquet`` (upserted), and the
state is stored after each bar (:mod:`volcast.pipeline.monitor_store`), in that order: after
a crash the worker reprocesses at most the one bar whose state was not stored, which replaces
its log row and does not repeat its events. A source outage or a rejected bar becomes an
event (``source_error``, ``bar_rejected``) and the loop goes on; nothing curated changes for
a rejected bar.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from volcast.config import Params, TargetParams
from volcast.errors import DataQualityError, ModelUnavailableError, SourceError
from volcast.features.target import build_target
from volcast.monitoring.events import Event
from volcast.monitoring.monitor import SeriesMonitor
from volcast.pipeline import stages
from volcast.pipeline.monitor_store import MonitorStore, StreamState
from volcast.pipeline.replay import Clock, ReplaySource
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.sources.base import Source
from volcast.storage import Storage

if TYPE_CHECKING:
    from volcast.pipeline.target_watch import TargetWatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BarForecast:
    """The champion's forecast made at bar ``as_of``, the baseline's and the feature row."""

    as_of: pd.Timestamp
    variance: float
    baseline: float | None
    features: dict[str, float]
    model_version: int | None


class Forecaster(Protocol):
    """The champion as the loop sees it (a registry-backed one in production)."""

    @property
    def version(self) -> int | None: ...

    @property
    def target(self) -> TargetParams | None:
        """The champion's target definition (its variance floor included), None if unknown."""
        ...

    def forecast(self, bars: pd.DataFrame) -> BarForecast:
        """The forecast made at the last of the cleaned ``bars``."""
        ...

    def refresh(self) -> bool:
        """Load the current champion if it changed; True when it did."""
        ...

    def new_monitor(self, previous: SeriesMonitor | None) -> SeriesMonitor:
        """A monitor calibrated for the current champion (rebasing ``previous`` if given)."""
        ...


Retrain = Callable[..., dict[str, Any]]
"""``retrain(series, since=..., degraded=...)``: train and promote a series; returns the
decision (``promoted``: bool, ``reason``...). ``since`` is the bar where the detected change
began (None when unknown); ``degraded``: the monitor found the champion degrading (the loop
always says so: it retrains only then)."""


@dataclass
class StreamReport:
    """What a run of the worker did."""

    bars: int = 0
    rejected: int = 0
    source_errors: int = 0
    retrains: int = 0
    promotions: int = 0
    events: list[Event] = field(default_factory=list)


class StreamWorker:
    """The loop of one series; one worker per series owns its monitoring state."""

    def __init__(
        self,
        *,
        storage: Storage,
        series: Series,
        params: Params,
        source: Source,
        clock: Clock,
        forecaster: Forecaster,
        retrain: Retrain,
        stop: threading.Event | None = None,
        on_event: Callable[[Event], None] | None = None,
        history_bars: int = 2000,
        on_bar: Callable[[pd.DataFrame], object] | None = None,
        targets: Sequence[TargetWatch] = (),
    ) -> None:
        self.storage = storage
        self.series = series
        self.params = params
        self.source = source
        self.clock = clock
        self.forecaster = forecaster
        self.retrain = retrain
        self.stop = stop or threading.Event()
        self.on_event = on_event or (lambda event: None)
        self.history_bars = history_bars
        self.on_bar = on_bar
        """Called with the bars up to each processed bar (the feature store's publisher)."""
        self.targets = list(targets)
        """The return and direction champions watched next to the variance one."""
        self.store = MonitorStore(storage, series)
        self.report = StreamReport()

    # ----- the loop ---------------------------------------------------------------------------

    def run(self) -> StreamReport:
        """Process bars until stopped (SIGTERM) or, in replay, until the file ends."""
        state = self.store.read_state()
        self._catch_up(state)  # bars curated but not processed (a crash, or batch runs)
        while not self.stop.is_set():
            if not self.clock.wait(state.last_seen or state.last_processed, self.stop):
                break
            if self._fetch(state) is not None:
                self._catch_up(state)
            if isinstance(self.source, ReplaySource) and self.source.remaining == 0:
                break  # the file is played out (or had nothing newer than the curated bars)
        return self.report

    def _fetch(self, state: StreamState) -> int | None:
        """Ingest and gate the next bars; None when nothing new was curated."""
        try:
            ingested = stages.ingest(
                storage=self.storage,
                source=self.source,
                symbol=self.series.symbol,
                interval=self.series.interval,
            )
        except SourceError as exc:
            if isinstance(self.source, ReplaySource):
                raise  # a file that cannot be read will not read better at the next tick
            self.report.source_errors += 1
            self._emit(state, [Event(_now(), "source_error", {"error": str(exc)})])
            return None
        if ingested.new_rows == 0:
            return None
        if ingested.last_timestamp is not None:
            state.last_seen = ingested.last_timestamp
        try:
            stages.validate(
                storage=self.storage,
                symbol=self.series.symbol,
                interval=self.series.interval,
                params=self.params,
            )
        except DataQualityError as exc:
            self.report.rejected += 1
            bar = ingested.last_timestamp or _now()
            detail = {"failed_checks": exc.failed_checks, "error": exc.message}
            self._emit(state, [Event(bar, "bar_rejected", detail)])
            self.store.write_state(state)
            return None
        return ingested.new_rows

    def _catch_up(self, state: StreamState) -> None:
        """Process, in order, every curated bar after the last processed one."""
        curated = stages.read_curated(self.storage, self.series.layout)
        if curated.empty:
            return
        from volcast.quality import clean_bars

        bars = clean_bars(curated, interval=self.series.interval)
        stamps = pd.DatetimeIndex(bars[TIMESTAMP])
        if state.last_processed is None:
            # a new loop starts at the latest curated bar: history was the training data
            start = len(bars) - 1
        else:
            start = int(stamps.searchsorted(state.last_processed, side="right"))
        for position in range(start, len(bars)):
            if self.stop.is_set() and position > start:
                break
            self._process(state, bars.iloc[: position + 1])

    def _process(self, state: StreamState, bars: pd.DataFrame) -> None:
        """One new bar: realize, monitor, forecast, log, maybe retrain; then store the state.

        The return and direction champions (``targets``) are realized and logged too. A
        series watched for those only (no variance ``@champion``) skips the variance part.
        """
        bar = pd.Timestamp(bars[TIMESTAMP].iloc[-1])
        history = bars.tail(self.history_bars + 1000).reset_index(drop=True)
        try:
            if state.monitor is None or self.forecaster.refresh():
                state.monitor = self.forecaster.new_monitor(state.monitor)
        except ModelUnavailableError:
            if not self.targets:
                raise
            missing = True  # no variance champion: the other targets may have theirs
        else:
            missing = False
        watched = [watch.process(state, bars, history) for watch in self.targets]
        if missing and not any(watched):
            raise ModelUnavailableError(
                f"no @champion for {self.series} (variance, return or direction); run "
                "`volcast pipeline` first",
                symbol=self.series.symbol,
                interval=self.series.interval,
            )
        if not missing:
            self._variance(state, bar, history)
        if self.on_bar is not None:
            self.on_bar(history)
        state.last_processed = bar
        state.last_seen = max(bar, state.last_seen) if state.last_seen is not None else bar
        self.report.bars += 1
        if state.monitor is not None and not missing and state.monitor.retrain_due:
            self._retrain(state, bar, pd.DatetimeIndex(history[TIMESTAMP]))
        self.store.write_state(state)

    def _variance(self, state: StreamState, bar: pd.Timestamp, history: pd.DataFrame) -> None:
        """Realize the variance champion's forecast of this bar, monitor it, log the next."""
        assert state.monitor is not None
        forecast = self.forecaster.forecast(history)
        log_frame = self.store.read_log()
        realized = self._realize(log_frame, history, state.realized_through)
        events: list[Event] = []
        if realized is not None:
            as_of, value, made, baseline = realized
            events += state.monitor.observe(
                bar,
                realized=value,
                forecast=made,
                baseline=baseline,
                features=forecast.features,
                requests=self.store.new_requests(state),
            )
            log_frame.loc[log_frame[TIMESTAMP] == as_of, "realized_variance"] = value
            state.realized_through = as_of
        row = pd.DataFrame(
            {
                TIMESTAMP: [forecast.as_of],
                "forecast_variance": [forecast.variance],
                "realized_variance": [np.nan],
                "model_version": pd.array([forecast.model_version], dtype="Int64"),
                "baseline_variance": [np.nan if forecast.baseline is None else forecast.baseline],
            }
        )
        log_frame = row if log_frame.empty else pd.concat([log_frame, row], ignore_index=True)
        self._emit(state, events)
        self.store.write_log(log_frame)

    def _realize(
        self, log_frame: pd.DataFrame, history: pd.DataFrame, through: pd.Timestamp | None
    ) -> tuple[pd.Timestamp, float, float, float | None] | None:
        """The forecast whose target bars have now all closed, with its realized value; None
        when there is none, or when the state has realized it already (``through``: when the
        champion's horizon grew, the bar ``horizon`` back was realized at the previous bar).

        Realized whether or not the log already holds the value: the log is written before
        the state, so a worker killed between the two finds the value there on restart while
        its monitor (from the older state) has not yet seen it. Recomputing gives the same
        value and the state counts the bar once, as the state is what says what it saw."""
        # the champion's target, floor included: the loop scores what the model learned
        definition = self.forecaster.target or self.params.target
        horizon = definition.horizon
        if log_frame.empty or len(history) <= horizon:
            return None
        as_of = pd.Timestamp(history[TIMESTAMP].iloc[-1 - horizon])
        match = log_frame.loc[log_frame[TIMESTAMP] == as_of]
        if match.empty or (through is not None and as_of <= through):
            return None
        target = build_target(history.tail(horizon + 1).reset_index(drop=True), params=definition)
        value = float(target.iloc[0])
        baseline = match["baseline_variance"].iloc[-1]
        return (
            as_of,
            value,
            float(match["forecast_variance"].iloc[-1]),
            None if pd.isna(baseline) else float(baseline),
        )

    def _retrain(self, state: StreamState, bar: pd.Timestamp, stamps: pd.DatetimeIndex) -> None:
        assert state.monitor is not None
        reason = list(state.monitor.trigger.reason)
        ago = state.monitor.change_bars_ago
        # the run of `ago` realized values ends at `bar`: the change began at its first bar
        since = stamps[max(len(stamps) - ago, 0)] if ago else None
        self.report.retrains += 1
        detail = {"reason": reason, "since": None if since is None else since.isoformat()}
        self._emit(state, [Event(bar, "retrain_started", detail)])
        try:
            decision = self.retrain(self.series, since=since, degraded=True)
        except Exception as exc:  # a failed retrain is reported; the loop keeps serving
            log.exception("retrain of %s failed", self.series)
            self._emit(state, [Event(bar, "retrain_done", {"ok": False, "error": str(exc)})])
            state.monitor.trigger.done()
            return
        self._emit(state, [Event(bar, "retrain_done", {"ok": True, **decision})])
        promoted = bool(decision.get("promoted"))
        outcome = Event(
            bar, "promoted" if promoted else "rejected", {"reason": decision.get("reason")}
        )
        self._emit(state, [outcome])
        if promoted:
            self.report.promotions += 1
        self.forecaster.refresh()
        state.monitor = self.forecaster.new_monitor(state.monitor)

    def _emit(self, state: StreamState, events: list[Event]) -> None:
        for event in self.store.append_events(events):
            self.report.events.append(event)
            self.on_event(event)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")
