"""Bad input gets a 4xx naming the problem, never a 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SYMBOL
from volcast.serving.settings import MAX_BATCH_SIZE


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"symbol": "GBP/JPY"}, 404, "unknown symbol"),
        ({"symbol": SYMBOL, "interval": "4h"}, 404, "interval"),
        ({"symbol": SYMBOL, "interval": "fortnight"}, 422, "unknown interval"),
        ({"symbol": "///"}, 400, "no letters or digits"),
        ({}, 422, "symbol"),
        ({"symbol": 12}, 422, "string"),
        ({"symbol": SYMBOL, "bogus": 1}, 422, "bogus"),
        ({"symbol": SYMBOL, "features": {"log_rv": "high"}}, 422, "log_rv"),
        ({"symbol": SYMBOL, "features": {"log_rv": 1.0}}, 400, "lack"),
    ],
)
def test_bad_predict_requests(
    client: TestClient, payload: dict[str, object], status: int, needle: str
) -> None:
    response = client.post("/predict", json=payload)
    assert response.status_code == status, response.text
    assert needle in response.text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_features_are_rejected(client: TestClient, literal: str) -> None:
    body = f'{{"symbol": "{SYMBOL}", "features": {{"log_rv": {literal}}}}}'
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "finite" in response.text


def test_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"symbol": "EUR', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.text


def test_oversized_and_empty_batches(client: TestClient) -> None:
    too_many = {"items": [{"symbol": SYMBOL}] * (MAX_BATCH_SIZE + 1)}
    response = client.post("/predict/batch", json=too_many)
    assert response.status_code == 422
    assert str(MAX_BATCH_SIZE) in response.text
    assert client.post("/predict/batch", json={"items": []}).status_code == 422


def test_a_bad_batch_item_is_named(client: TestClient) -> None:
    items = [{"symbol": SYMBOL}, {"symbol": "XAU/USD"}]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 404
    assert response.json()["context"]["item"] == "1"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"symbol": SYMBOL, "as_of": "2020-01-01T00:00:00Z", "realized_variance": 1e-6}, 404),
        ({"symbol": SYMBOL, "as_of": "2024-02-19T23:00:00Z", "realized_variance": -1}, 422),
        ({"symbol": SYMBOL, "as_of": "yesterday", "realized_variance": 1e-6}, 422),
    ],
)
def test_bad_feedback(client: TestClient, payload: dict[str, object], status: int) -> None:
    assert client.post("/feedback", json=payload).status_code == status


def test_unknown_route_is_a_clear_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not Found"


@pytest.mark.parametrize("realized", [1e308, 1e-300])
def test_feedback_with_an_absurd_realized_value_is_a_400(
    client: TestClient, realized: float
) -> None:
    as_of = client.post("/predict", json={"symbol": SYMBOL}).json()["as_of"]
    response = client.post(
        "/feedback", json={"symbol": SYMBOL, "as_of": as_of, "realized_variance": realized}
    )
    assert response.status_code == 400, response.text
    assert "QLIKE" in response.json()["detail"]


def test_an_as_of_pandas_cannot_hold_is_a_400(client: TestClient) -> None:
    payload = {"symbol": SYMBOL, "as_of": "0190-01-14T18:06:46+17:50", "realized_variance": 1e-6}
    response = client.post("/feedback", json=payload)
    assert response.status_code == 400, response.text
    assert "out of range" in response.json()["detail"]
