"""Return and direction forecasts through /predict and /predict/batch on real champions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import INTERVAL, SYMBOL, World
from volcast.features import FeatureBuilder
from volcast.registry.targets import load_target_model


def _expected(world: World, kind: str) -> float:
    """The champion's forecast at the latest stored bar, computed here from the bars."""
    from volcast.config import FeatureParams
    from volcast.features.target import logged_target

    loaded = load_target_model(SYMBOL, INTERVAL, kind, tracking_uri=world.tracking_uri)
    config = loaded.feature_config
    builder = FeatureBuilder(
        features=FeatureParams.model_validate(config["features"]),
        target=logged_target(config["target"]),
        interval=INTERVAL,
    )
    row = builder.transform_last(world.bars)
    return float(loaded.predict(row.to_frame().T.astype("float64"))[0])


def test_batch_answers_every_target_as_predict_does(client: TestClient, world: World) -> None:
    items = [
        {"symbol": SYMBOL, "target": "direction"},
        {"symbol": SYMBOL},
        {"symbol": "eurusd", "interval": "1h", "target": "return"},
        {"symbol": SYMBOL, "target": "variance"},
    ]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 200, response.text
    answers = response.json()["items"]
    assert len(answers) == 4
    singles = [client.post("/predict", json=item).json() for item in items]
    assert answers == singles  # each item as POST /predict answers it

    direction, variance, ret, variance_again = answers
    assert direction["target"] == "direction"
    assert 0.0 <= direction["probability_up"] <= 1.0
    assert direction["forecast_return"] is None
    assert math.isclose(direction["probability_up"], _expected(world, "direction"), rel_tol=1e-9)
    assert direction["model"] == {
        "name": "volcast-eurusd-1h-direction",
        "version": world.target_versions["direction"],
        "alias": "champion",
        "run_id": direction["model"]["run_id"],
    }
    assert pd.Timestamp(direction["as_of"]) == world.bars["timestamp"].iloc[-1]
    assert ret["target"] == "return"
    assert ret["model"]["name"] == "volcast-eurusd-1h-return"
    assert math.isclose(ret["forecast_return"], _expected(world, "return"), rel_tol=1e-9)
    assert ret["close"] == pytest.approx(float(world.bars["close"].iloc[-1]), rel=1e-12)
    assert ret["implied_close"] == pytest.approx(
        ret["close"] * np.exp(ret["forecast_return"]), rel=1e-12
    )
    assert variance["variance"] > 0
    assert variance == variance_again
    assert "target" not in variance


def test_a_single_target_item_is_answered(client: TestClient) -> None:
    response = client.post(
        "/predict/batch", json={"items": [{"symbol": SYMBOL, "target": "direction"}]}
    )
    assert response.status_code == 200, response.text
    assert 0.0 <= response.json()["items"][0]["probability_up"] <= 1.0


@pytest.mark.parametrize(
    ("item", "status", "needle"),
    [
        ({"symbol": SYMBOL, "target": "direction", "features": {"log_rv": 1.0}}, 409, "omit"),
        ({"symbol": SYMBOL, "target": "return", "as_of": "2024-01-01T00:00:00Z"}, 409, "omit"),
        ({"symbol": "XAU/USD", "target": "direction"}, 404, "unknown symbol"),
        ({"symbol": SYMBOL, "interval": "4h", "target": "return"}, 404, "interval"),
    ],
)
def test_a_bad_target_item_fails_the_batch_and_is_named(
    client: TestClient, item: dict[str, object], status: int, needle: str
) -> None:
    items = [{"symbol": SYMBOL, "target": "return"}, item, {"symbol": SYMBOL}]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == status, response.text
    assert needle in response.text
    assert response.json()["context"]["item"] == "1"


def test_a_bad_variance_item_after_target_items_keeps_its_index(client: TestClient) -> None:
    items = [
        {"symbol": SYMBOL, "target": "direction"},
        {"symbol": SYMBOL, "target": "return"},
        {"symbol": SYMBOL, "features": {"log_rv": 1.0}},
    ]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 409, response.text
    assert response.json()["context"]["items"] == "2"


def test_the_first_bad_item_is_named_whichever_its_target(client: TestClient) -> None:
    items = [
        {"symbol": SYMBOL},
        {"symbol": SYMBOL, "features": {"log_rv": 1.0}},  # bad variance item
        {"symbol": "XAU/USD", "target": "direction"},  # bad target item after it
    ]
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 409, response.text
    assert response.json()["context"]["items"] == "1"
    items[1] = {"symbol": SYMBOL, "target": "return"}  # now the target item is the first bad
    response = client.post("/predict/batch", json={"items": items})
    assert response.status_code == 404, response.text
    assert response.json()["context"]["item"] == "2"


@pytest.mark.parametrize(
    "item",
    [
        {"symbol": SYMBOL, "target": "up"},
        {"symbol": SYMBOL, "target": None},
        {"symbol": SYMBOL, "target": 1},
    ],
)
def test_a_malformed_target_is_a_422(client: TestClient, item: dict[str, object]) -> None:
    response = client.post("/predict/batch", json={"items": [{"symbol": SYMBOL}, item]})
    assert response.status_code == 422, response.text
    assert "target" in response.text
