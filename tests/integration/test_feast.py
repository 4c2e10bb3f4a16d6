"""The feature store against real parts: Feast in its own environment, `feast serve`, Redis.

One module world (the Feast calls dominate: each starts a Python that imports Feast):

- the Feast environment is created once per session by ``scripts/feast.sh`` (its first-use
  cost is printed);
- a LightGBM champion in a SQLite registry; the ``features`` stage runs through the CLI with
  ``VOLCAST_FEAST_REPO`` set on all bars but the last (apply + first materialisation into
  SQLite), then the live loop's bar hook publishes the last bar (``materialize-incremental``);
- ``feast serve`` on that store; the API reads online features from it.

Redis gets its own feature store home (same datasets) and its own ``feast serve``.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import N_BARS, store_bars, synthetic_bars, train_and_register
from tests.helpers import REPO_ROOT, closed_port, listening_port, require_binary
from tests.support.processes import stop, wait_for
from volcast.config import get_settings
from volcast.errors import FeatureStoreError
from volcast.features import build_dataset
from volcast.featurestore import FeatureStoreSettings, OnlineClient, Publisher
from volcast.pipeline.stages import read_dataset
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.serving.app import create_app, default_service
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("feast")]

FEAST_SH = REPO_ROOT / "scripts" / "feast.sh"
FEATURE_REPO = REPO_ROOT / "feature_repo"
SERIES = Series("EUR/USD", "1h")
VIEW = "volcast_eurusd_1h"
Api = Callable[[str | None], TestClient]


def feast_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLCAST_FEAST_")}
    return {
        **env,
        "VOLCAST_DATA_DIR": str(data_dir),
        "VOLCAST_FEAST_REPO": str(FEATURE_REPO),
        **extra,
    }


@pytest.fixture(scope="session")
def feast_venv(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The Feast environment (created on first use by scripts/feast.sh); seconds it took."""
    data = tmp_path_factory.mktemp("feast-venv-check")
    began = time.monotonic()
    done = subprocess.run(
        [str(FEAST_SH), "--python", "-c", "import feast; print(feast.__version__)"],
        env=feast_env(data),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    seconds = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "0.67.0"
    print(f"\nFeast environment ready in {seconds:.1f} s", file=sys.stderr)
    return seconds


@dataclass
class World:
    root: Path
    storage: Storage
    tracking_uri: str
    bars: pd.DataFrame
    dataset: pd.DataFrame
    """The dataset the features stage wrote (all bars but the last)."""
    latest: pd.Series
    """The feature row of the last bar, as the builder makes it from every bar."""
    features: list[str]
    first_publish: str
    bar_publish: str

    def settings(self, **kw: object) -> FeatureStoreSettings:
        return FeatureStoreSettings(repo=FEATURE_REPO, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(feast_venv: float, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("feast")
    data = root / "data"
    storage = Storage(data)
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    bars = synthetic_bars(N_BARS)
    store_bars(storage, bars.iloc[:-1])
    train_and_register(bars.iloc[:-1], kind="lightgbm", tracking_uri=tracking_uri)
    params = root / "params.yaml"
    params.write_text("profile:\n  enabled: false\n")
    command = [sys.executable, "-m", "volcast", "features", "--config", str(params)]
    command += ["--symbol", SERIES.symbol, "--interval", SERIES.interval]
    done = subprocess.run(
        command, env=feast_env(data), capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    materialized = (data / "feature_store" / "materialized.json").read_text()
    stored = read_dataset(storage, symbol=SERIES.symbol, interval=SERIES.interval)
    assert stored.spec.features is not None
    assert stored.spec.target is not None

    # the live loop publishes each bar it processes: replay the file's one new bar
    bars.to_csv(root / "bars.csv", index=False)
    command = [sys.executable, "-m", "volcast", "stream", "--replay", "--speed", "0"]
    command += ["--source", "csv", "--path", str(root / "bars.csv"), "--config", str(params)]
    command += ["--symbol", SERIES.symbol, "--interval", SERIES.interval]
    env = feast_env(data, MLFLOW_TRACKING_URI=tracking_uri)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    forecasts = storage.read_parquet(SERIES.layout.monitoring_forecasts)
    assert forecasts[TIMESTAMP].iloc[-1] == bars[TIMESTAMP].iloc[-1]  # the loop saw the bar
    published = (data / "feature_store" / "materialized.json").read_text()
    last_end = bars[TIMESTAMP].iloc[-1] + pd.Timedelta(seconds=1)
    assert last_end.isoformat() in published
    full = build_dataset(
        bars, features=stored.spec.features, target=stored.spec.target, interval=SERIES.interval
    )
    return World(
        root=root,
        storage=storage,
        tracking_uri=tracking_uri,
        bars=bars,
        dataset=stored.frame,
        latest=full.iloc[-1],
        features=[*stored.spec.feature_names, "rv"],
        first_publish=materialized,
        bar_publish=published,
    )


@contextlib.contextmanager
def feast_server(data: Path, home: Path, **extra: str) -> Iterator[str]:
    """``scripts/feast.sh serve`` on an OS-chosen port until healthy; yields its URL."""
    log = (home.parent / f"serve-{home.name}.log").open("wb")
    # gunicorn keeps a control socket under $HOME: one per server
    env = feast_env(data, VOLCAST_FEAST_HOME=str(home), HOME=str(home.parent), **extra)
    process = subprocess.Popen(
        [str(FEAST_SH), "serve", "--host", "127.0.0.1", "--port", "0", "--no-access-log"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{listening_port(process, timeout=300)}"
        wait_for(
            lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200,
            what="feast serve",
            deadline=120,
        )
        yield url
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def sqlite_server(world: World) -> Iterator[str]:
    data = world.root / "data"
    with feast_server(data, data / "feature_store") as url:
        yield url


@pytest.fixture
def api(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """Start the API on the world's store and registry, reading features from ``url``."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    get_settings.cache_clear()
    clients: list[TestClient] = []

    def start(url: str | None) -> TestClient:
        settings = ServingSettings(history_bars=N_BARS, features="feast" if url else "bars")
        if url:
            monkeypatch.setenv("VOLCAST_FEAST_URL", url)
        service = default_service(settings=settings, storage=world.storage)
        client = TestClient(create_app(service_factory=lambda: service, poll=False))
        client.__enter__()
        clients.append(client)
        service.refresh_data()  # the background poll: checks the online rows for /ready
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def predict(client: TestClient) -> dict[str, object]:
    response = client.post("/predict", json={"symbol": SERIES.symbol})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def ready(client: TestClient) -> dict[str, object]:
    body: dict[str, object] = client.get("/ready").json()
    return body


# ----- materialisation and the offline store ----------------------------------------------------


def test_features_stage_and_live_bar_materialise(world: World) -> None:
    """`features` materialised the view up to its last bar, the live loop up to the next."""
    first = pd.Timestamp(world.bars[TIMESTAMP].iloc[-2]) + pd.Timedelta(seconds=1)
    assert f'"{VIEW}": "{first.isoformat()}"' in world.first_publish
    assert VIEW in world.bar_publish
    yaml = (world.root / "data" / "feature_store" / "feature_store.yaml").read_text()
    assert "type: sqlite" in yaml


def test_point_in_time_training_rows_equal_the_builders_dataset(world: World) -> None:
    data = world.root / "data"
    last = pd.Timestamp(world.bars[TIMESTAMP].iloc[-1])
    probes = [last, last + pd.Timedelta(hours=2), last + pd.Timedelta(hours=5)]
    stamps = [*world.dataset[TIMESTAMP], *probes]
    entities = pd.DataFrame({"series": "eurusd/1h", "event_timestamp": pd.DatetimeIndex(stamps)})
    entities.to_parquet(world.root / "entities.parquet")
    out = world.root / "historical.parquet"
    done = subprocess.run(
        [
            str(FEAST_SH),
            "--python",
            str(REPO_ROOT / "scripts/feast/historical.py"),
            str(world.root / "entities.parquet"),
            str(out),
        ],
        env=feast_env(data),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = pd.read_parquet(out).set_index("event_timestamp")
    # every row the features stage wrote comes back exactly, warm-up NaNs included (the
    # loop's restart bar, already published with the same values, was not rewritten)
    expected = world.dataset.set_index(TIMESTAMP)[world.features]
    got = rows.loc[expected.index, world.features]
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    # the bar the live loop published equals the builder's row over every bar
    latest = world.latest[world.features].to_numpy(dtype="float64")
    np.testing.assert_allclose(rows.loc[last, world.features].to_numpy(float), latest, rtol=1e-9)
    # within the TTL (3 bars) the last row holds; beyond it nothing comes back
    np.testing.assert_allclose(
        rows.loc[probes[1], world.features].to_numpy(float), latest, rtol=1e-9
    )
    expired = rows.loc[rows.index == probes[2], world.features]
    assert expired.empty or expired.isna().all(axis=None)


# ----- online reads -------------------------------------------------------------------------------


def test_online_read_through_the_feature_server(world: World, sqlite_server: str) -> None:
    row = OnlineClient(sqlite_server, timeout=10).read(SERIES, world.features)
    assert row.event_time == world.bars[TIMESTAMP].iloc[-1]
    got = np.array([row.values[name] for name in world.features], dtype="float64")
    np.testing.assert_allclose(got, world.latest[world.features].to_numpy(float), rtol=1e-9)


def test_api_serves_the_online_row(world: World, sqlite_server: str, api: Api) -> None:
    from_feast = predict(api(sqlite_server))
    from_bars = predict(api(None))
    assert from_feast["input"] == "feast"
    assert from_bars["input"] == "bars"
    assert from_feast["as_of"] == from_bars["as_of"]
    assert math.isclose(from_feast["variance"], from_bars["variance"], rel_tol=1e-6)  # type: ignore[arg-type]
    assert ready(api(sqlite_server))["status"] == "ready"


def test_guard_refuses_a_row_behind_the_latest_bar(
    world: World, sqlite_server: str, api: Api
) -> None:
    last = world.bars.iloc[[-1]].copy()
    last[TIMESTAMP] = last[TIMESTAMP] + pd.Timedelta(hours=1)
    last[["open", "high", "low", "close"]] *= 1.0005
    store_bars(world.storage, pd.concat([world.bars, last], ignore_index=True))
    try:
        client = api(sqlite_server)
        state = ready(client)
        assert state["status"] == "degraded"
        reason = " ".join(state["reasons"])  # type: ignore[arg-type]
        assert "1 bar(s) behind the latest closed bar" in reason
        assert "serving features computed from bars" in reason
        body = predict(client)
        assert body["input"] == "bars"  # the fresh bar, computed from bars: never the stale row
        assert pd.Timestamp(body["as_of"]) == last[TIMESTAMP].iloc[0]  # type: ignore[arg-type]
        assert 'mode="feast_fallback"' in client.get("/metrics").text
    finally:
        store_bars(world.storage, world.bars)


def test_guard_refuses_a_live_row_older_than_the_ttl(
    world: World, sqlite_server: str, api: Api
) -> None:
    store_bars(world.storage, world.bars, live=True)  # bars of 2024: closed long ago
    try:
        client = api(sqlite_server)
        reason = " ".join(ready(client)["reasons"])  # type: ignore[arg-type]
        assert "beyond the feature view's TTL of 3 bars" in reason
        assert predict(client)["input"] == "bars"
    finally:
        store_bars(world.storage, world.bars)


def test_feature_server_down_falls_back_to_bars(world: World, api: Api) -> None:
    with closed_port() as port:
        client = api(f"http://127.0.0.1:{port}")
        state = ready(client)
        body = predict(client)
    assert state["status"] == "degraded"
    reason = " ".join(state["reasons"])  # type: ignore[arg-type]
    assert "feature store unavailable: feature server" in reason
    assert "unreachable" in reason
    assert body["input"] == "bars"


# ----- Redis ---------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A throwaway redis-server (no persistence) on a free loopback port."""
    binary = require_binary("redis-server")
    with socket.socket() as probe:  # redis cannot report an OS-chosen port: take a free one
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def pong() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(pong, what="redis-server", deadline=30)
        yield port, process
    finally:
        stop(process)


def test_redis_online_store(world: World, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    data = world.root / "data"
    home = world.root / "fs-redis"
    with redis_server(world.root) as (port, redis):
        online = f"redis://127.0.0.1:{port}/0"
        monkeypatch.setenv("VOLCAST_FEAST_ONLINE", online)
        publisher = Publisher(FeatureStoreSettings(repo=FEATURE_REPO, home=home), data_dir=data)
        full = pd.concat([world.dataset, world.latest.to_frame().T], ignore_index=True)
        full[TIMESTAMP] = pd.to_datetime(full[TIMESTAMP], utc=True)
        publisher.publish_dataset(SERIES, full, world.features)
        assert "type: redis" in (home / "feature_store.yaml").read_text()
        with feast_server(data, home, VOLCAST_FEAST_ONLINE=online) as url:
            row = OnlineClient(url, timeout=10).read(SERIES, world.features)
            assert row.event_time == world.bars[TIMESTAMP].iloc[-1]
            got = np.array([row.values[name] for name in world.features], dtype="float64")
            np.testing.assert_allclose(got, world.latest[world.features].to_numpy(float), rtol=1e-9)
            assert predict(api(url))["input"] == "feast"

            stop(redis)  # the online store goes down under the feature server
            # the server answers 5xx once its Redis client gives up; under load its
            # reconnection attempts can outlast the read's timeout: both are a failed read
            with pytest.raises(FeatureStoreError, match=r"answered 5|unreachable: ReadTimeout"):
                OnlineClient(url, timeout=10).read(SERIES, world.features)
            client = api(url)
            reason = " ".join(ready(client)["reasons"])  # type: ignore[arg-type]
            assert "feature store unavailable" in reason
            assert predict(client)["input"] == "bars"
