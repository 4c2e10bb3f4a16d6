"""Forecasts through the app (TestClient, lifespan included) on a real registered champion."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
from fastapi.testclient import TestClient

from tests.api.conftest import INTERVAL, SYMBOL, World
from volcast.config import Params
from volcast.features import FeatureBuilder
from volcast.registry import load_model
from volcast.schemas import bars_per_year


def test_predict_by_symbol_matches_the_champion_on_the_latest_bar(
    client: TestClient, world: World
) -> None:
    response = client.post("/predict", json={"symbol": SYMBOL})
    assert response.status_code == 200, response.text
    body = response.json()
    params = Params()
    builder = FeatureBuilder(features=params.features, target=params.target, interval=INTERVAL)
    row = builder.transform_last(world.bars)
    loaded = load_model(SYMBOL, INTERVAL, tracking_uri=world.tracking_uri)
    expected = float(loaded.predict(row.to_frame().T.astype("float64"))["variance"].iloc[0])
    assert body["symbol"] == SYMBOL
    assert body["interval"] == INTERVAL
    assert pd.Timestamp(body["as_of"]) == world.bars["timestamp"].iloc[-1]
    assert body["horizon"] == 1
    assert math.isclose(body["variance"], expected, rel_tol=1e-9)
    assert math.isclose(body["volatility"], math.sqrt(expected), rel_tol=1e-9)
    assert math.isclose(
        body["annualized_volatility"], math.sqrt(expected * bars_per_year(INTERVAL)), rel_tol=1e-9
    )
    assert body["model"] == {
        "name": "volcast-eurusd-1h",
        "version": world.version,
        "alias": "champion",
        "run_id": loaded.run_id,
    }
    assert body["baseline"]["name"] == "har"
    assert body["baseline"]["variance"] > 0
    assert body["drift"]["window"] >= 1
    assert body["synthetic"] is True


def test_any_spelling_of_the_symbol_and_an_explicit_interval_resolve(client: TestClient) -> None:
    a = client.post("/predict", json={"symbol": "EUR/USD"}).json()
    b = client.post("/predict", json={"symbol": "eurusd", "interval": "1h"}).json()
    assert a["variance"] == b["variance"]


def test_explicit_features_give_the_same_forecast_as_the_bars(
    client: TestClient, world: World
) -> None:
    info = client.get("/model/info").json()["models"][0]
    params = Params()
    builder = FeatureBuilder(features=params.features, target=params.target, interval=INTERVAL)
    row = builder.transform_last(world.bars)
    features = {name: float(row[name]) for name in info["feature_names"]}
    by_features = client.post(
        "/predict",
        json={"symbol": SYMBOL, "features": features, "as_of": row.name.isoformat()},
    )
    assert by_features.status_code == 200, by_features.text
    by_bars = client.post("/predict", json={"symbol": SYMBOL}).json()
    assert by_features.json()["input"] == "features"
    assert math.isclose(by_features.json()["variance"], by_bars["variance"], rel_tol=1e-12)


def test_batch_answers_in_order(client: TestClient) -> None:
    items = [{"symbol": SYMBOL}, {"symbol": "eur-usd", "interval": "1h"}]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 200, response.text
    answers = response.json()["items"]
    assert len(answers) == 2
    assert answers[0]["variance"] == answers[1]["variance"]


def test_model_info_lists_the_champion_inputs(client: TestClient, world: World) -> None:
    body = client.get("/model/info").json()
    [model] = body["models"]
    assert model["model"]["version"] == world.version
    assert model["required_history"] > 24
    assert "log_rv" in model["feature_names"]
    assert "timestamp" not in model["feature_names"]


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["instruments"][0]["forecast_ready"] is True
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/predict/batch", "/feedback", "/admin/reload", "/metrics"} <= set(paths)


def test_feedback_scores_the_forecast_with_qlike(client: TestClient) -> None:
    forecast = client.post("/predict", json={"symbol": SYMBOL}).json()
    realized = forecast["variance"] * 2.0
    response = client.post(
        "/feedback",
        json={"symbol": SYMBOL, "as_of": forecast["as_of"], "realized_variance": realized},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forecast_variance"] == forecast["variance"]
    assert math.isclose(body["qlike"], 2.0 - math.log(2.0) - 1.0, rel_tol=1e-9)
    assert body["baseline_variance"] == forecast["baseline"]["variance"]


def test_feedback_on_an_earlier_bar_recomputes_that_forecast(
    client: TestClient, world: World
) -> None:
    as_of = world.bars["timestamp"].iloc[-5]
    response = client.post(
        "/feedback",
        json={"symbol": SYMBOL, "as_of": as_of.isoformat(), "realized_variance": 1e-6},
    )
    assert response.status_code == 200, response.text
    latest = client.post("/predict", json={"symbol": SYMBOL}).json()
    assert response.json()["forecast_variance"] != latest["variance"]


def test_admin_reload_needs_the_bearer_token(
    make_client: Callable[..., TestClient], monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    client = make_client()
    assert client.post("/admin/reload").status_code == 401  # no token given
    disabled = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert disabled.status_code == 403  # admin disabled: no token configured
    monkeypatch.setenv("VOLCAST_ADMIN_TOKEN", "s3cret")
    from volcast.config import get_settings

    get_settings.cache_clear()
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "HTTPException"
    ok = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["reloaded"] == ["eurusd 1h"]


def test_repeated_feedback_for_a_bar_is_acknowledged_but_counted_once(
    client: TestClient, world: World
) -> None:
    stamps = [world.bars["timestamp"].iloc[i].isoformat() for i in (-4, -3, -2)]
    payload = {"symbol": SYMBOL, "as_of": stamps[1], "realized_variance": 1e-6}
    earlier = client.post(
        "/feedback", json={**payload, "as_of": stamps[0], "realized_variance": 1e-3}
    )
    assert earlier.status_code == 200, earlier.text
    first = client.post("/feedback", json=payload)
    assert first.status_code == 200, first.text
    for spelling in (payload, {**payload, "symbol": "eurusd", "interval": INTERVAL}):
        again = client.post("/feedback", json=spelling)
        assert again.status_code == 200, again.text
        assert again.json()["rolling_qlike"] == first.json()["rolling_qlike"]
        assert again.json()["duplicate"] is True
        assert "duplicate" in again.json()["detail"]
    assert first.json()["duplicate"] is False
    # a new bar still counts and moves the rolling loss
    moved = client.post(
        "/feedback", json={**payload, "as_of": stamps[2], "realized_variance": 1e-3}
    )
    assert moved.json()["duplicate"] is False
    assert moved.json()["rolling_qlike"] != first.json()["rolling_qlike"]


def test_as_of_without_features_must_be_the_latest_stored_bar(
    client: TestClient, world: World
) -> None:
    earlier = world.bars["timestamp"].iloc[-5].isoformat()
    refused = client.post("/predict", json={"symbol": SYMBOL, "as_of": earlier})
    assert refused.status_code == 409, refused.text  # conflicts with the latest stored bar
    assert "as_of is only used with explicit features" in refused.json()["detail"]
    latest = world.bars["timestamp"].iloc[-1]
    accepted = client.post("/predict", json={"symbol": SYMBOL, "as_of": latest.isoformat()})
    assert accepted.status_code == 200, accepted.text
    assert pd.Timestamp(accepted.json()["as_of"]) == latest
