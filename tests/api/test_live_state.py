"""The API exports the stream worker's monitoring state (state.json), not windows of its own."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import INTERVAL, SYMBOL, World
from volcast.monitoring.decay import Cusum, SurpriseCusum
from volcast.monitoring.drift import DriftDetector
from volcast.monitoring.events import Event
from volcast.monitoring.level import LevelFit, LevelShift
from volcast.monitoring.monitor import SeriesMonitor
from volcast.monitoring.reference import reference_statistics
from volcast.monitoring.trigger import RetrainTrigger
from volcast.pipeline.monitor_store import MonitorStore, StreamState
from volcast.series import Series

SERIES = Series(SYMBOL, INTERVAL)


def gauges(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of metric ``name`` keyed by its labels other than symbol and interval."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("symbol") == SYMBOL:
                labels = {k: v for k, v in sample.labels.items() if k not in ("symbol", "interval")}
                out[tuple(sorted(labels.items()))] = sample.value
    return out


@pytest.fixture
def stream_state(world: World) -> Iterator[dict[str, object]]:
    """A stream worker's stored state for the world's series: decaying, one failed retrain."""
    store = MonitorStore(world.storage, SERIES)
    monitor = SeriesMonitor(
        model_version=world.version,
        decay=SurpriseCusum(level=-0.6, scale=1.0, threshold=5.0),
        relative=Cusum(threshold=4.0, upward_only=True),
        # a tiny level regression: the mean of the last 2 log values against the one before
        level=LevelShift(LevelFit(coef=(0.0, 1.0), lags=(1,), window=2, up=0.5, down=0.5)),
        trigger=RetrainTrigger(k=3, n=6, cooldown=10),
        # the worker's OOD line from the training history, not the API's own 0.15
        drift=DriftDetector(
            reference_statistics(pd.DataFrame({"rv": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] * 10})),
            ood_threshold=0.42,
        ),
        training_qlike=0.31,
        loss_window=8,  # 12 bars fill it: the rolling QLIKE is exported
    )
    stamps = pd.date_range("2024-03-01", periods=12, freq="1h", tz="UTC")
    for i, bar in enumerate(stamps):  # realized far above the forecasts: the surprise climbs
        monitor.observe(bar, realized=4e-6 * (1 + i % 3), forecast=1e-6, baseline=3e-6)
    assert monitor.decay_detected
    store.append_events(
        [
            Event(stamps[5], "decay", {"surprise_cusum": 6.0}),
            Event(stamps[6], "retrain_started", {"reason": ["decay"]}),
            Event(stamps[7], "retrain_done", {"ok": False, "error": "registry down"}),
        ]
    )
    store.write_state(StreamState(last_processed=stamps[-1], monitor=monitor))
    summary = store.read_summary()
    assert summary is not None
    yield summary
    for path in (store.state_path, store.summary_path, store.events_path):
        (world.root / "data" / path).unlink()


def test_metrics_and_responses_come_from_the_stream_state(
    stream_state: dict[str, object], make_client: Callable[..., TestClient]
) -> None:
    summary = stream_state
    client = make_client()
    text = client.get("/metrics").text
    loss = gauges(text, "forecast_loss_qlike")
    assert math.isclose(loss[(("forecaster", "model"),)], float(summary["rolling_qlike"]))
    assert math.isclose(loss[(("forecaster", "har"),)], float(summary["rolling_qlike_baseline"]))
    assert gauges(text, "forecast_loss_training_qlike")[()] == pytest.approx(0.31)
    decay = gauges(text, "decay_statistic")
    assert decay[(("detector", "surprise"),)] == pytest.approx(float(summary["decay_statistic"]))
    assert decay[(("detector", "relative"),)] == pytest.approx(float(summary["relative_statistic"]))
    assert gauges(text, "decay_threshold")[(("detector", "surprise"),)] == 5.0
    assert gauges(text, "decay_detected")[()] == 1.0
    # the last three realized values are 4, 8 and 12e-6: (ln 8 + ln 12) / 2 - ln 4 = ln 6 / 2
    assert gauges(text, "volatility_level_shift")[()] == pytest.approx(math.log(6) / 2)
    assert summary["level_statistic"] == pytest.approx(math.log(6) / 2)
    assert gauges(text, "volatility_level_threshold")[()] == 0.5
    assert gauges(text, "drift_detected")[()] == 1.0  # the level step raises drift
    # the alert compares the OOD ratio with the worker's line (deploy/prometheus/rules)
    assert gauges(text, "out_of_distribution_threshold")[()] == summary["ood_threshold"] == 0.42
    events = gauges(text, "monitoring_events")
    assert events[(("event", "decay"),)] == 1.0
    assert events[(("event", "retrain_failed"),)] == 1.0
    assert events[(("event", "promoted"),)] == 0.0
    last = gauges(text, "monitoring_last_bar_timestamp_seconds")[()]
    assert last == pd.Timestamp("2024-03-01T11:00:00Z").timestamp()

    drift = client.post("/predict", json={"symbol": SYMBOL}).json()["drift"]
    assert drift["window"] == summary["drift_window"] == 0  # the worker's, not the API's own


def test_feedback_does_not_overwrite_the_stream_loss(
    stream_state: dict[str, object], make_client: Callable[..., TestClient], world: World
) -> None:
    client = make_client()
    as_of = world.bars["timestamp"].iloc[-1].isoformat()
    answer = client.post(
        "/feedback", json={"symbol": SYMBOL, "as_of": as_of, "realized_variance": 1e-3}
    )
    assert answer.status_code == 200, answer.text
    loss = gauges(client.get("/metrics").text, "forecast_loss_qlike")
    assert math.isclose(loss[(("forecaster", "model"),)], float(stream_state["rolling_qlike"]))


def test_a_loss_the_state_no_longer_has_is_not_exported_stale(
    stream_state: dict[str, object], make_client: Callable[..., TestClient], world: World
) -> None:
    """After a retrain the worker rebases its monitor: no rolling loss until the new champion's
    first realized bar. The API must not go on exporting the old champion's loss (the loss
    alerts would judge it against the new champion's training level)."""
    text = make_client().get("/metrics").text
    assert gauges(text, "forecast_loss_qlike")[(("forecaster", "model"),)] > 0
    store = MonitorStore(world.storage, SERIES)
    state = store.read_state()
    assert state.monitor is not None
    state.monitor.rebase(
        model_version=world.version,
        decay=SurpriseCusum(level=-0.6, scale=1.0, threshold=5.0),
        training_qlike=0.4,
    )
    store.write_state(state)
    summary = store.read_summary()
    assert summary is not None
    assert summary["rolling_qlike"] is None
    text = make_client().get("/metrics").text  # the API reads the new state
    loss = gauges(text, "forecast_loss_qlike")
    assert math.isnan(loss[(("forecaster", "model"),)])
    assert math.isnan(loss[(("forecaster", "har"),)])
    assert gauges(text, "forecast_loss_training_qlike")[()] == pytest.approx(0.4)
    assert math.isnan(gauges(text, "decay_statistic")[(("detector", "relative"),)])
