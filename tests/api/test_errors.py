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
        ({"symbol": SYMBOL, "interval": "fortnight"}, 422, "string_pattern_mismatch"),
        ({"symbol": SYMBOL, "interval": "0h"}, 422, "string_pattern_mismatch"),
        ({"symbol": SYMBOL, "interval": "1h\n"}, 422, "string_pattern_mismatch"),
        ({"symbol": "///"}, 422, "string_pattern_mismatch"),
        ({}, 422, "symbol"),
        ({"symbol": 12}, 422, "string"),
        ({"symbol": SYMBOL, "bogus": 1}, 422, "bogus"),
        ({"symbol": SYMBOL, "features": {"log_rv": "high"}}, 422, "log_rv"),
        ({"symbol": SYMBOL, "features": {"log_rv": 1.0}}, 409, "lack"),
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


def test_feedback_with_an_absurd_realized_value_is_answered_but_not_counted(
    client: TestClient,
) -> None:
    as_of = client.post("/predict", json={"symbol": SYMBOL}).json()["as_of"]
    payload = {"symbol": SYMBOL, "as_of": as_of}
    too_big = client.post("/feedback", json={**payload, "realized_variance": 1e308})
    assert too_big.status_code == 422, too_big.text  # over the declared maximum
    tiny = client.post("/feedback", json={**payload, "realized_variance": 1e-300})
    assert tiny.status_code == 200, tiny.text
    body = tiny.json()
    assert body["counted"] is False
    assert body["duplicate"] is False
    assert "QLIKE" in body["detail"]
    assert body["rolling_qlike"] is None  # nothing counted yet in this worker
    good = client.post("/feedback", json={**payload, "realized_variance": 1e-6})
    assert good.status_code == 200, good.text
    assert good.json()["counted"] is True  # the bar can still be counted
    assert good.json()["rolling_qlike"] == good.json()["qlike"]


@pytest.mark.parametrize("as_of", ["0190-01-14T18:06:46+17:50", "9999-12-31T23:00:00Z"])
def test_an_as_of_pandas_cannot_hold_is_no_bar_404(client: TestClient, as_of: str) -> None:
    payload = {"symbol": SYMBOL, "as_of": as_of, "realized_variance": 1e-6}
    response = client.post("/feedback", json=payload)
    assert response.status_code == 404, response.text
    assert "out of range" in response.json()["detail"]
    features = client.get("/model/info").json()["models"][0]["feature_names"]
    predict = {"symbol": SYMBOL, "as_of": as_of, "features": dict.fromkeys(features, 0.0)}
    response = client.post("/predict", json=predict)
    assert response.status_code == 404, response.text
    assert "out of range" in response.json()["detail"]


def test_the_openapi_schema_states_the_accepted_interval_and_symbol(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PredictRequest", "FeedbackRequest"):
        properties = schemas[name]["properties"]
        [interval] = [s for s in properties["interval"]["anyOf"] if s.get("type") == "string"]
        assert interval["pattern"] == "^[1-9][0-9]*(min|h|d|w)$"
        assert properties["symbol"]["pattern"] == "[A-Za-z0-9]"


def test_admin_without_a_token_is_401_with_a_bearer_challenge(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from volcast.config import get_settings

    monkeypatch.setenv("VOLCAST_ADMIN_TOKEN", "s3cret")
    get_settings.cache_clear()
    missing = client.post("/admin/reload")
    assert missing.status_code == 401, missing.text
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    not_bearer = client.post("/admin/reload", headers={"Authorization": "Basic czNjcmV0"})
    assert not_bearer.status_code == 401, not_bearer.text
    wrong = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403, wrong.text
    assert "WWW-Authenticate" not in wrong.headers
    right = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200, right.text
    assert right.json()["reloaded"] == ["eurusd 1h"]
    monkeypatch.delenv("VOLCAST_ADMIN_TOKEN")
    get_settings.cache_clear()
    disabled = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert disabled.status_code == 403, disabled.text
    assert "disabled" in disabled.json()["detail"]
    assert client.post("/admin/reload").status_code == 401


def test_admin_responses_are_declared_in_openapi(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/admin/reload"]["post"]["responses"]
    assert {"200", "401", "403"} <= set(responses)
    assert "WWW-Authenticate" in responses["401"]["headers"]
