"""Model swaps and registry outages, driven through the service's background refreshes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from mlflow import MlflowClient

from tests.api.conftest import SYMBOL, World, train_and_register
from tests.helpers import closed_port
from volcast.registry import CHAMPION, model_name


def test_a_new_champion_is_swapped_in_by_polling(
    make_client: Callable[..., TestClient], world: World
) -> None:
    client = make_client()
    service = client.app.state.service  # type: ignore[attr-defined]
    before = client.post("/predict", json={"symbol": SYMBOL}).json()
    new = train_and_register(world.bars, kind="har", tracking_uri=world.tracking_uri)
    try:
        assert service.refresh_models() == [("eurusd", "1h")]
        after = client.post("/predict", json={"symbol": SYMBOL}).json()
        assert after["model"]["version"] == new != before["model"]["version"]
        assert after["variance"] != before["variance"]
        assert service.refresh_models() == []  # same version: nothing reloaded
    finally:
        MlflowClient(world.tracking_uri, world.tracking_uri).set_registered_model_alias(
            model_name(SYMBOL, "1h"), CHAMPION, str(world.version)
        )


def test_registry_outage_keeps_the_last_good_model(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    service = client.app.state.service  # type: ignore[attr-defined]
    with closed_port() as port:  # bound by this process, never listening: refused
        service.loader.tracking_uri = f"http://127.0.0.1:{port}"
        service.refresh_models()
    response = client.post("/predict", json={"symbol": SYMBOL})
    assert response.status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["registry_reachable"] is False
    assert any("registry unreachable" in r for r in ready.json()["reasons"])


def test_no_model_at_all_is_503_with_the_reason(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(alias="nonexistent")
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "no model" in ready.json()["reasons"][0]
    response = client.post("/predict", json={"symbol": SYMBOL})
    assert response.status_code == 503
    assert "no model in service" in response.json()["detail"]


def test_new_bars_are_picked_up_by_content_hash(
    make_client: Callable[..., TestClient], world: World
) -> None:
    from tests.api.conftest import store_bars

    client = make_client()
    service = client.app.state.service  # type: ignore[attr-defined]
    assert service.refresh_data() == []
    store_bars(world.storage, world.bars.iloc[:-1].reset_index(drop=True))
    try:
        assert service.refresh_data() == [("eurusd", "1h")]
        body = client.post("/predict", json={"symbol": SYMBOL}).json()
        assert body["as_of"].startswith(world.bars["timestamp"].iloc[-2].strftime("%Y-%m-%dT%H"))
    finally:
        store_bars(world.storage, world.bars)
