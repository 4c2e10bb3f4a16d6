"""Alertmanager's webhook: firing action=retrain alerts become retrain requests, once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import INTERVAL, SYMBOL, World
from volcast.monitoring.requests import RetrainRequest
from volcast.series import Series

TOKEN = "al3rt"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUESTS = Series(SYMBOL, INTERVAL).layout.monitoring_requests


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager's webhook sends it."""
    base = {
        "alertname": "ForecastLossDegraded",
        "action": "retrain",
        "symbol": SYMBOL,
        "interval": INTERVAL,
        "severity": "warning",
    }
    return {
        "status": status,
        "labels": {k: v for k, v in (base | labels).items() if v},
        "annotations": {"summary": "QLIKE 1.3x its training level"},
        "startsAt": "2024-03-05T07:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "c0ffee12",
    }


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ForecastLossDegraded"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "volcast",
        "groupLabels": {"alertname": "ForecastLossDegraded"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
def client(
    make_client: Callable[..., TestClient], world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("VOLCAST_ALERT_WEBHOOK_TOKEN", TOKEN)
    yield make_client()
    for path in world.storage.list(REQUESTS):
        (world.root / "data" / path).unlink()


def stored(world: World) -> list[RetrainRequest]:
    return [
        RetrainRequest.from_dict(world.storage.read_json(p)) for p in world.storage.list(REQUESTS)
    ]


def test_a_firing_retrain_alert_is_stored_once_for_its_stream_worker(
    client: TestClient, world: World
) -> None:
    first = client.post("/alerts/webhook", json=webhook(alert()), headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.json() == {"requested": [f"{SYMBOL} {INTERVAL}"], "duplicates": [], "ignored": []}
    (request,) = stored(world)
    assert request.alertname == "ForecastLossDegraded"
    assert request.fingerprint == "c0ffee12"
    assert request.summary == "QLIKE 1.3x its training level"
    # Alertmanager re-sends a firing alert (repeat_interval, retries): one request stays
    again = client.post("/alerts/webhook", json=webhook(alert()), headers=AUTH)
    assert again.json()["duplicates"] == [f"{SYMBOL} {INTERVAL}"]
    assert len(stored(world)) == 1


def test_alerts_that_ask_for_nothing_are_acknowledged_with_the_reason(
    client: TestClient, world: World
) -> None:
    body = webhook(
        alert(status="resolved"),
        alert(action=""),
        alert(symbol="XAU/JPY"),
        alert(interval=""),
    )
    response = client.post("/alerts/webhook", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    reasons = [item["reason"] for item in response.json()["ignored"]]
    assert reasons[0] == "status is 'resolved', not 'firing'"
    assert reasons[1] == "no label action='retrain'"
    assert reasons[2].startswith("not a served series: unknown symbol 'XAU/JPY'")
    assert reasons[3] == "missing label(s) interval"
    assert response.json()["requested"] == []
    assert stored(world) == []


def test_the_webhook_needs_its_token_and_a_well_formed_body(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/alerts/webhook", json=webhook(alert())).status_code == 401
    wrong = client.post(
        "/alerts/webhook", json=webhook(alert()), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "the alert webhook bearer token is wrong"
    malformed = client.post(
        "/alerts/webhook", json={"alerts": [{"status": "firing"}]}, headers=AUTH
    )
    assert malformed.status_code == 422
    assert "startsAt" in malformed.text
    epoch = client.post("/alerts/webhook", json=webhook(alert() | {"startsAt": 0}), headers=AUTH)
    assert epoch.status_code == 422  # not read as 1970
    assert "RFC 3339" in epoch.text
    monkeypatch.delenv("VOLCAST_ALERT_WEBHOOK_TOKEN")
    from volcast.config import get_settings

    get_settings.cache_clear()
    disabled = client.post("/alerts/webhook", json=webhook(alert()), headers=AUTH)
    assert disabled.status_code == 403
    assert "VOLCAST_ALERT_WEBHOOK_TOKEN is unset" in disabled.json()["detail"]
    assert stored(world) == []
