"""The series monitor: decay and drift events, rolling loss, the trigger, its summary."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from volcast.monitoring.decay import Cusum, SurpriseCusum
from volcast.monitoring.drift import DriftDetector
from volcast.monitoring.monitor import SeriesMonitor
from volcast.monitoring.trigger import RetrainTrigger

START = pd.Timestamp("2024-01-01", tz="UTC")


def bar(i: int) -> pd.Timestamp:
    return START + pd.Timedelta(hours=i)


def monitor(*, drift: DriftDetector | None = None) -> SeriesMonitor:
    return SeriesMonitor(
        model_version=3,
        decay=SurpriseCusum(level=0.0, scale=1.0, k=0.5, threshold=4.0),
        relative=Cusum(level=0.0, scale=0.5, k=0.5, threshold=4.0, upward_only=True),
        drift=drift,
        trigger=RetrainTrigger(k=2, n=3, cooldown=10),
        loss_window=4,
    )


def test_calibrated_forecasts_raise_nothing() -> None:
    m = monitor()
    rng = np.random.default_rng(0)
    events = []
    for i in range(200):
        events += m.observe(bar(i), realized=float(np.exp(rng.normal(0, 0.5))), forecast=1.0)
    assert events == []
    assert not m.retrain_due
    assert m.summary()["bars"] == 200


def test_a_lasting_underforecast_raises_decay_once_then_fires_the_trigger() -> None:
    m = monitor()
    kinds: list[tuple[int, str]] = []
    fired: list[int] = []
    for i in range(12):
        for event in m.observe(bar(i), realized=np.e**2, forecast=1.0, baseline=1.0):
            kinds.append((i, event.event))
        if m.retrain_due:
            fired.append(i)
    # z = 2 each bar, k = 0.5: the sum passes 4 on the third bar; one event while it lasts
    assert kinds == [(2, "decay")]
    assert fired == [3]  # k=2 of n=3 bars signalled: bars 2 and 3
    detail = m._decay_detail()
    assert detail["direction"] == "up"
    assert detail["rolling_qlike"] == pytest.approx(np.e**2 - 2 - 1)  # window of 4 equal losses
    assert detail["rolling_qlike_baseline"] == detail["rolling_qlike"]
    assert m.relative is not None
    assert not m.relative.drift_detected  # HAR was as wrong: no relative decay


def test_a_champion_losing_to_the_baseline_raises_decay_without_any_bias() -> None:
    m = monitor()
    events = []
    for i in range(40):
        realized = float(np.e ** (1 if i % 2 else -1))  # mean surprise 0: the CUSUM stays low
        events += m.observe(bar(i), realized=realized, forecast=1.0, baseline=realized)
    assert [e.event for e in events] == ["decay"]
    assert not m.decay.drift_detected
    assert m.relative is not None
    assert m.relative.drift_detected
    assert events[0].detail["relative_cusum"] > events[0].detail["relative_threshold"]


def test_drift_events_come_from_the_drift_detector() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=2000)
    edges = np.quantile(values, np.linspace(0, 1, 11)).tolist()
    reference = {
        "features": {
            "x": {
                "bin_edges": edges, "proportions": [0.1] * 10,
                "mean": 0.0, "std": 1.0, "min": float(values.min()), "max": float(values.max()),
            }
        }
    }  # fmt: skip
    m = monitor(drift=DriftDetector(reference, window=20, min_samples=10))
    seen = []
    for i in range(30):
        seen += [
            e.event for e in m.observe(bar(i), realized=1.0, forecast=1.0, features={"x": 50.0})
        ]
    assert seen == ["drift"]
    assert m.summary()["ood_ratio"] == 1.0


def test_summary_is_plain_json_and_state_pickles() -> None:
    m = monitor()
    for i in range(5):
        m.observe(bar(i), realized=2.0, forecast=1.0, baseline=1.5)
    json.dumps(m.summary(), allow_nan=False)
    copy = pickle.loads(pickle.dumps(m))
    assert copy.summary() == m.summary()


def test_rebase_installs_fresh_detectors_and_ends_the_pending_retrain() -> None:
    m = monitor()
    for i in range(5):
        m.observe(bar(i), realized=np.e**2, forecast=1.0)
    assert m.trigger.pending_
    m.rebase(model_version=4, decay=SurpriseCusum(threshold=4.0))
    assert not m.trigger.pending_
    assert m.model_version == 4
    assert m.summary()["decay_statistic"] == 0.0
    assert m.summary()["rolling_qlike"] is None


def test_unusable_values_are_skipped() -> None:
    m = monitor()
    assert m.observe(bar(0), realized=0.0, forecast=1.0) == []
    assert m.decay.n_seen_ == 0
    assert m.summary()["rolling_qlike"] is None


def test_retrain_requests_fire_the_trigger_once_and_report_what_became_of_them() -> None:
    from volcast.monitoring.requests import RetrainRequest

    def request(name: str) -> RetrainRequest:
        return RetrainRequest(
            symbol="EUR/USD",
            interval="1h",
            alertname="ForecastLossDegraded",
            fingerprint=name,
            starts_at=bar(0),
        )

    m = monitor()
    events = m.observe(bar(1), realized=1.0, forecast=1.0, requests=[request("a"), request("b")])
    assert m.retrain_due  # no k-of-n wait for an operator's alert
    assert m.trigger.reason == ("alert",)
    assert [e.event for e in events] == ["retrain_requested", "retrain_requested"]
    assert all(e.detail["accepted"] for e in events)
    m.rebase(model_version=4, decay=SurpriseCusum(threshold=4.0))  # the retrain finished
    later = m.observe(bar(2), realized=1.0, forecast=1.0, requests=[request("c")])
    assert not m.retrain_due
    assert later[0].detail == {**request("c").to_dict(), "accepted": False, "why": "cooldown"}
    assert request("a").name == request("a").name != request("b").name
    assert RetrainRequest.from_dict(request("a").to_dict()) == request("a")


def test_the_rolling_loss_waits_for_enough_bars_before_it_is_exported() -> None:
    m = SeriesMonitor(
        model_version=1,
        decay=SurpriseCusum(level=0.0, scale=1.0, k=0.5, threshold=1e9),
        trigger=RetrainTrigger(k=3, n=6, cooldown=10),
        loss_window=168,
    )
    for i in range(23):  # one bad bar first: alone it would read as a degraded model
        m.observe(bar(i), realized=9.0 if i == 0 else 1.0, forecast=1.0, baseline=1.0)
    assert m.summary()["rolling_qlike"] is None
    assert m.summary()["rolling_qlike_baseline"] is None
    m.observe(bar(23), realized=1.0, forecast=1.0, baseline=1.0)
    assert m.summary()["rolling_qlike"] == pytest.approx((9 - np.log(9) - 1) / 24)


def test_an_alarm_hovering_at_its_line_is_one_event_until_the_detector_was_quiet_a_day() -> None:
    from volcast.monitoring.monitor import REARM_BARS

    m = monitor()
    surprises = [2, 2, 2, -1, 2, -1, 2]  # over the line on bars 2, 4 and 6, under in between
    surprises += [0] * (REARM_BARS + 10)  # the sum runs down to 0 and stays quiet
    surprises += [2, 2, 2]  # a new alarm, more than a day after the last
    raised = []
    for i, z in enumerate(surprises):
        for event in m.observe(bar(i), realized=float(np.exp(z)), forecast=1.0):
            raised.append((i, event.event))
    assert m.decay.drift_detected
    assert raised == [(2, "decay"), (len(surprises) - 1, "decay")]
    # the state an older volcast stored (no record of the last signals) still loads and works
    del m.__dict__["_last_signal"]
    restored = pickle.loads(pickle.dumps(m))
    assert restored.observe(bar(len(surprises)), realized=float(np.exp(2)), forecast=1.0) == []
    assert restored._last_signal == {"decay": len(surprises) + 1}
