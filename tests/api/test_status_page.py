"""The status page and its JSON documents (`/`, `/api/series/...`) on the world's champion."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import INTERVAL, SYMBOL, World
from volcast.monitoring.events import Event
from volcast.series import Series

SERIES = Series(SYMBOL, INTERVAL)
BASE = f"/api/series/{SERIES.slug}/{INTERVAL}"


@pytest.fixture
def clean_files(world: World) -> Iterator[World]:
    """Remove the monitoring and backtest files a test stored for the world's series."""
    yield world
    data = world.root / "data"
    shutil.rmtree(data / SERIES.layout.monitoring_dir, ignore_errors=True)
    for path in (SERIES.layout.backtest_predictions, SERIES.layout.backtest_meta):
        (data / path).unlink(missing_ok=True)


def _backtest(world: World, n: int = 50) -> None:
    stamps = world.bars["timestamp"].iloc[-n:].reset_index(drop=True)
    rows = []
    for model, scale in (("lightgbm", 1.0), ("har", 1.5), ("ewma", 2.0)):
        rows.append(
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "model": model,
                    "forecast_variance": scale * 1e-6,
                    "realized_variance": 4e-6,
                }
            )
        )
    world.storage.write_parquet(SERIES.layout.backtest_predictions, pd.concat(rows))
    world.storage.write_json(
        SERIES.layout.backtest_meta,
        {"challenger": "lightgbm", "version": world.version, "run_id": "r", "dataset_hash": "h"},
    )


def test_page_renders_every_series_with_its_champion(client: TestClient, world: World) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "EUR/USD" in page
    assert "Synthetic data" in page
    assert f'data-version="{world.version}"' in page
    assert 'data-slug="eurusd"' in page
    for asset in ("/static/status.js", "/static/status.css", "/static/vendor/uPlot.iife.min.js"):
        assert asset in page
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in page.lower()


def test_series_list_links_the_documents(client: TestClient) -> None:
    body = client.get("/api/series").json()
    (item,) = body["series"]
    assert item["symbol"] == SYMBOL
    assert item["synthetic"] is True
    assert item["links"]["forecasts"] == f"{BASE}/forecasts"
    for link in item["links"].values():
        assert client.get(link).status_code == 200, link


def test_forecasts_come_from_the_backtest_then_the_live_log(
    client: TestClient, clean_files: World
) -> None:
    world = clean_files
    empty = client.get(f"{BASE}/forecasts").json()
    assert empty["origin"] == "none"
    assert empty["points"] == []

    _backtest(world)
    body = client.get(f"{BASE}/forecasts", params={"limit": 20}).json()
    assert body["origin"] == "backtest"
    assert body["model"] == "lightgbm"
    assert body["synthetic"] is True
    assert len(body["points"]) == 20
    point = body["points"][-1]
    assert point["forecast"] == pytest.approx(1e-3)
    assert point["baseline"] == pytest.approx(np.sqrt(1.5e-6))
    assert point["realized"] == pytest.approx(2e-3)

    stamps = world.bars["timestamp"].iloc[-5:].reset_index(drop=True)
    log = pd.DataFrame(
        {
            "timestamp": stamps,
            "forecast_variance": 1e-6,
            "realized_variance": [4e-6, 4e-6, 4e-6, np.nan, np.nan],
            "model_version": pd.array([world.version] * 5, dtype="Int64"),
            "baseline_variance": 9e-6,
        }
    )
    world.storage.write_parquet(SERIES.layout.monitoring_forecasts, log)
    live = client.get(f"{BASE}/forecasts").json()
    assert live["origin"] == "live"
    assert live["model"] == f"v{world.version}"
    assert [p["realized"] for p in live["points"]][-2:] == [None, None]
    assert live["points"][0]["baseline"] == pytest.approx(3e-3)


def test_events_newest_first_and_torn_lines_skipped(client: TestClient, clean_files: World) -> None:
    world = clean_files
    stamps = pd.date_range("2024-03-01", periods=3, freq="1h", tz="UTC")
    lines = [
        Event(stamps[0], "decay", {"surprise_cusum": 6.0}).to_json(),
        "{not json",
        Event(stamps[1], "retrain_started", {"reason": ["decay"]}).to_json(),
        Event(stamps[2], "retrain_done", {"ok": True}).to_json(),
    ]
    world.storage.write_bytes(SERIES.layout.monitoring_events, ("\n".join(lines) + "\n").encode())
    body = client.get(f"{BASE}/events", params={"limit": 2}).json()
    assert [e["event"] for e in body["events"]] == ["retrain_done", "retrain_started"]
    assert body["events"][0]["detail"] == {"ok": True}


def test_champion_card_carries_the_registry_record(client: TestClient, world: World) -> None:
    card = client.get(f"{BASE}/champion").json()
    assert card["version"] == world.version
    assert card["name"] == "volcast-eurusd-1h"
    assert card["registered_at"] is not None
    assert card["qlike"] == pytest.approx(0.1)  # the run metric train_and_register logs
    assert card["decision"] is None  # never judged by `volcast promote`


def test_status_colours(client: TestClient) -> None:
    body = client.get(f"{BASE}/status").json()
    assert body["synthetic"] is True
    assert body["freshness"]["status"] == "info"  # sample bars: not a live feed
    assert "synthetic" in body["freshness"]["text"]
    assert body["ood"]["status"] in ("ok", "warn", "alert", "info")
    assert body["loss"]["status"] == "info"  # no realized loss yet
    assert body["status"] in ("ok", "warn", "alert", "info")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/series/btcusd/1h/forecasts", 404),
        (f"/api/series/{SERIES.slug}/4h/status", 404),
        (f"/api/series/{SERIES.slug}/hourly/status", 422),
        ("/api/series/%2F%2F/1h/champion", 404),
        (f"{BASE}/forecasts?limit=0", 422),
        (f"{BASE}/events?limit=abc", 422),
        ("/?refresh=0", 422),
    ],
)
def test_bad_requests_are_4xx_with_a_json_error(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
