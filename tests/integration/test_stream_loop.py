"""The stream loop's mechanics on a replayed file: every bar once, restarts, rejects, retrains.

The forecaster here is a plain rolling mean of Garman-Klass variances (the loop does not care
which model forecasts); the registry-backed champion is exercised end to end elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from volcast.config import Params
from volcast.features.estimators import realized_variance
from volcast.monitoring.decay import SurpriseCusum
from volcast.monitoring.monitor import SeriesMonitor
from volcast.monitoring.trigger import RetrainTrigger
from volcast.pipeline import stages
from volcast.pipeline.monitor_store import MonitorStore
from volcast.pipeline.replay import ReplayClock, ReplaySource
from volcast.pipeline.stream import BarForecast, StreamWorker
from volcast.series import Series
from volcast.sources.csv import CsvSource
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERIES = Series("EUR/USD", "1h")
N_HISTORY, N_REPLAY = 300, 120


def make_bars(n: int, *, shift_at: int | None = None, factor: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    scale = np.full(n, 0.001)
    if shift_at is not None:
        scale[shift_at:] *= np.sqrt(factor)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, scale)))
    open_ = np.r_[1.1, close[:-1]]
    wiggle = np.abs(rng.normal(0, scale))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wiggle),
            "low": np.minimum(open_, close) * np.exp(-wiggle),
            "close": close,
            "volume": 1.0,
        }
    )


def write_csv(bars: pd.DataFrame, path: Path) -> Path:
    out = bars.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


@dataclass
class RollingForecaster:
    """Mean of the last 168 bars' variances (baseline: 24); a retrain bumps the version."""

    params: Params
    version_: int = 1
    calls: int = 0
    stop_after: int | None = None
    stop: threading.Event | None = None
    retrains: list[str] = field(default_factory=list)
    retrain_since: list[pd.Timestamp | None] = field(default_factory=list)

    @property
    def version(self) -> int | None:
        return self.version_

    @property
    def target(self) -> None:
        return None  # the worker's params define the target

    def forecast(self, bars: pd.DataFrame) -> BarForecast:
        self.calls += 1
        if self.stop is not None and self.stop_after is not None and self.calls >= self.stop_after:
            self.stop.set()
        rv = realized_variance(bars, estimator="garman_klass", floor=1e-12)
        return BarForecast(
            as_of=pd.Timestamp(bars["timestamp"].iloc[-1]),
            variance=float(rv.tail(168).mean()),
            baseline=float(rv.tail(24).mean()),
            features={"rv": float(rv.iloc[-1])},
            model_version=self.version_,
        )

    def refresh(self) -> bool:
        return False

    def new_monitor(self, previous: SeriesMonitor | None) -> SeriesMonitor:
        decay = SurpriseCusum(level=-0.4, scale=1.5, k=0.5, threshold=8.0)
        if previous is None:
            return SeriesMonitor(
                model_version=self.version_,
                decay=decay,
                trigger=RetrainTrigger(k=2, n=3, cooldown=24),
            )
        return previous.rebase(model_version=self.version_, decay=decay)

    def retrain(
        self, series: Series, *, since: pd.Timestamp | None = None, degraded: bool = False
    ) -> dict[str, Any]:
        self.retrains.append(str(series))
        self.retrain_since.append(since)
        self.version_ += 1
        return {"promoted": True, "reason": "test retrain", "version": self.version_}


@pytest.fixture
def world(tmp_path: Path) -> tuple[Storage, Params, Path]:
    """History curated up to bar N_HISTORY; a file with N_REPLAY more bars to replay."""
    storage = Storage(tmp_path / "data")
    params = Params()
    bars = make_bars(N_HISTORY + N_REPLAY)
    history = write_csv(bars.iloc[:N_HISTORY], tmp_path / "history.csv")
    full = write_csv(bars, tmp_path / "full.csv")
    stages.ingest(storage=storage, source=CsvSource(path=history), symbol="EUR/USD", interval="1h")
    stages.validate(storage=storage, symbol="EUR/USD", interval="1h", params=params)
    return storage, params, full


def worker(
    storage: Storage, params: Params, path: Path, forecaster: RollingForecaster
) -> StreamWorker:
    stop = forecaster.stop or threading.Event()
    forecaster.stop = stop
    return StreamWorker(
        storage=storage,
        series=SERIES,
        params=params,
        source=ReplaySource(CsvSource(path=path)),
        clock=ReplayClock(interval="1h", speed=0),
        forecaster=forecaster,
        retrain=forecaster.retrain,
        stop=stop,
    )


def test_replay_processes_every_new_bar_once_and_realizes_each_forecast(
    world: tuple[Storage, Params, Path],
) -> None:
    storage, params, path = world
    report = worker(storage, params, path, RollingForecaster(params)).run()
    log = MonitorStore(storage, SERIES).read_log()
    # the latest curated bar when the loop started, then every replayed bar
    assert report.bars == N_REPLAY + 1
    assert report.retrains == 0
    assert [e.event for e in report.events] == []  # unchanged volatility: no alarm
    assert len(log) == N_REPLAY + 1
    assert log["timestamp"].is_unique
    assert log["timestamp"].is_monotonic_increasing
    assert log["realized_variance"].iloc[:-1].notna().all()
    assert np.isnan(log["realized_variance"].iloc[-1])  # the last bar's future is unknown
    curated = stages.read_curated(storage, SERIES.layout)
    assert len(curated) == N_HISTORY + N_REPLAY
    # realized = Garman-Klass of the next bar, as the training target defines it
    gk = realized_variance(curated, estimator="garman_klass", floor=params.target.floor)
    expected = gk.shift(-1).iloc[N_HISTORY - 1 : -1].to_numpy()
    np.testing.assert_allclose(log["realized_variance"].iloc[:-1].to_numpy(), expected)


def test_a_stopped_worker_resumes_without_repeating_or_skipping_a_bar(
    world: tuple[Storage, Params, Path],
) -> None:
    storage, params, path = world
    first = RollingForecaster(params, stop_after=40, stop=threading.Event())
    worker(storage, params, path, first).run()
    partial = MonitorStore(storage, SERIES).read_log()
    assert 0 < len(partial) < N_REPLAY
    worker(storage, params, path, RollingForecaster(params)).run()
    log = MonitorStore(storage, SERIES).read_log()
    assert len(log) == N_REPLAY + 1
    assert log["timestamp"].is_unique
    assert (log["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()


def test_a_rejected_bar_is_reported_skipped_and_changes_nothing(
    world: tuple[Storage, Params, Path], tmp_path: Path
) -> None:
    storage, params, _ = world
    bars = make_bars(N_HISTORY + N_REPLAY)
    bad = N_HISTORY + 10
    bars.loc[bad, "high"] = bars.loc[bad, "low"] * 0.5  # high below low: OHLC inconsistent
    path = write_csv(bars, tmp_path / "bad.csv")
    report = worker(storage, params, path, RollingForecaster(params)).run()
    assert report.rejected == 1
    events = MonitorStore(storage, SERIES).read_events()
    rejected = [e for e in events if e.event == "bar_rejected"]
    assert len(rejected) == 1
    assert rejected[0].time == bars.loc[bad, "timestamp"]
    assert "ohlc_consistency" in str(rejected[0].detail["failed_checks"])
    curated = stages.read_curated(storage, SERIES.layout)
    assert bars.loc[bad, "timestamp"] not in set(curated["timestamp"])
    assert len(curated) == N_HISTORY + N_REPLAY - 1  # the bars after it went on


def test_a_volatility_shift_raises_decay_and_a_retrain_that_promotes(
    world: tuple[Storage, Params, Path], tmp_path: Path
) -> None:
    storage, params, _ = world
    bars = make_bars(N_HISTORY + N_REPLAY, shift_at=N_HISTORY + 20, factor=9.0)
    path = write_csv(bars, tmp_path / "shift.csv")
    forecaster = RollingForecaster(params)
    report = worker(storage, params, path, forecaster).run()
    kinds = [e.event for e in MonitorStore(storage, SERIES).read_events()]
    assert "decay" in kinds
    assert kinds.index("retrain_started") < kinds.index("retrain_done") < kinds.index("promoted")
    assert forecaster.retrains == [str(SERIES)] * report.retrains
    assert report.promotions >= 1
    decay_at = next(e.time for e in report.events if e.event == "decay")
    shift = bars["timestamp"].iloc[N_HISTORY + 20]
    assert decay_at >= shift
    # the retrain is told where the change began (Page's estimate: the alarming run's start)
    since = forecaster.retrain_since[0]
    assert since is not None
    assert shift - pd.Timedelta(hours=12) <= since <= decay_at
    log = MonitorStore(storage, SERIES).read_log()
    assert log["model_version"].iloc[-1] > log["model_version"].iloc[0]


def test_an_alert_request_retrains_once_and_a_second_within_the_cooldown_does_not(
    world: tuple[Storage, Params, Path],
) -> None:
    from volcast.monitoring.requests import RetrainRequest

    storage, params, path = world
    requests_dir = SERIES.layout.monitoring_requests

    def store_request(fingerprint: str) -> None:
        request = RetrainRequest(
            symbol=SERIES.symbol,
            interval=SERIES.interval,
            alertname="ForecastLossDegraded",
            fingerprint=fingerprint,
            starts_at=pd.Timestamp("2024-01-13T07:00:00Z"),
        )
        storage.write_json(f"{requests_dir}/{request.name}.json", request.to_dict())

    store_request("first")  # what the API's webhook writes while the worker runs
    forecaster = RollingForecaster(params)
    loop = worker(storage, params, path, forecaster)
    # a second alert lands as the retrain finishes: it must wait out the cooldown (24 bars)
    loop.on_event = lambda e: store_request("second") if e.event == "retrain_done" else None
    report = loop.run()
    events = MonitorStore(storage, SERIES).read_events()
    requested = [e for e in events if e.event == "retrain_requested"]
    assert [(e.detail["fingerprint"], e.detail["accepted"]) for e in requested] == [
        ("first", True),
        ("second", False),
    ]
    assert requested[1].detail["why"] == "cooldown"
    assert report.retrains == 1
    started = next(e for e in events if e.event == "retrain_started")
    assert started.detail["reason"] == ["alert"]
    assert started.time == requested[0].time
    # a restart does not take the same requests again
    assert worker(storage, params, path, forecaster).run().retrains == 0
    assert (
        len(
            [
                e
                for e in MonitorStore(storage, SERIES).read_events()
                if e.event == "retrain_requested"
            ]
        )
        == 2
    )


def test_a_source_outage_is_reported_and_the_loop_goes_on(
    world: tuple[Storage, Params, Path],
) -> None:
    from volcast.errors import SourceError

    storage, params, path = world
    stop = threading.Event()

    class FlakyLive:
        """A provider (not a replay) that is down, after its own retries, on the 2nd and 3rd
        tick."""

        # not live: its 2024 bars would fail the gate's freshness check of live sources
        name, live = "csv", False

        def __init__(self) -> None:
            self.inner = ReplaySource(CsvSource(path=path))
            self.calls = 0

        def fetch(self, **kwargs: Any) -> pd.DataFrame:
            self.calls += 1
            if self.calls in (2, 3):
                raise SourceError("HTTP 503 from the provider after 5 retries", provider="csv")
            return self.inner.fetch(**kwargs)

    class Ticks:
        """A clock whose every wait returns at once; stops the worker after ``n`` ticks."""

        def __init__(self, n: int) -> None:
            self.n = n

        def wait(self, last_bar: pd.Timestamp | None, stop: threading.Event) -> bool:
            self.n -= 1
            if self.n < 0:
                stop.set()
            return not stop.is_set()

    forecaster = RollingForecaster(params)
    loop = StreamWorker(
        storage=storage,
        series=SERIES,
        params=params,
        source=FlakyLive(),
        clock=Ticks(N_REPLAY + 4),
        forecaster=forecaster,
        retrain=forecaster.retrain,
        stop=stop,
    )
    report = loop.run()  # no exception: the worker outlives the outage
    assert report.source_errors == 2
    errors = [e for e in report.events if e.event == "source_error"]
    # reported with the provider's message (two identical reports within one wall-clock
    # second are one line of events.jsonl)
    assert errors
    assert {e.detail["error"] for e in errors} == {
        "HTTP 503 from the provider after 5 retries (provider=csv)"
    }
    log = MonitorStore(storage, SERIES).read_log()
    assert len(log) == N_REPLAY + 1  # every bar once, none lost to the outage
    assert log["timestamp"].is_unique


def test_a_worker_killed_between_the_log_and_the_state_counts_every_realized_bar_once(
    world: tuple[Storage, Params, Path],
) -> None:
    """The log is written before the state: a crash between the two must not leave the
    restarted monitor one realized bar short (it finds the value already in the log)."""
    storage, params, path = world
    crashed = worker(storage, params, path, RollingForecaster(params))
    write_state, calls = crashed.store.write_state, []

    def crash_on_the_40th(state: Any) -> None:
        calls.append(1)
        if len(calls) == 40:
            raise KeyboardInterrupt("killed after the log, before the state")
        write_state(state)

    crashed.store.write_state = crash_on_the_40th  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        crashed.run()
    worker(storage, params, path, RollingForecaster(params)).run()
    state = MonitorStore(storage, SERIES).read_state()
    assert state is not None
    assert state.monitor is not None
    log = MonitorStore(storage, SERIES).read_log()
    assert len(log) == N_REPLAY + 1
    assert log["timestamp"].is_unique
    # every replayed bar realized the forecast made at the bar before it, once
    assert state.monitor.n_bars_ == N_REPLAY == int(log["realized_variance"].notna().sum())


@dataclass
class GrowingHorizon(RollingForecaster):
    """A champion whose target horizon grows from 1 to 2 bars after ``switch_at`` forecasts
    (params.yaml changed and the pipeline rerun while the worker runs)."""

    switch_at: int = 30

    @property
    def target(self) -> Any:
        if self.calls < self.switch_at:
            return None
        return self.params.target.model_copy(update={"horizon": 2})


def test_a_grown_horizon_does_not_realize_a_bar_twice(
    world: tuple[Storage, Params, Path],
) -> None:
    """At the switch, the bar two back was realized one bar ago (horizon 1): it must not be
    fed to the monitor again under the new definition, nor its log value overwritten."""
    storage, params, path = world
    worker(storage, params, path, GrowingHorizon(params)).run()
    state = MonitorStore(storage, SERIES).read_state()
    assert state.monitor is not None
    log = MonitorStore(storage, SERIES).read_log()
    assert len(log) == N_REPLAY + 1
    # the last two forecasts wait for bars that have not closed under horizon 2
    assert log["realized_variance"].iloc[:-2].notna().all()
    assert state.monitor.n_bars_ == int(log["realized_variance"].notna().sum())
    assert state.realized_through == log["timestamp"].iloc[-3]
