"""`volcast serve` as a real uvicorn process (two workers) on a real `mlflow server`.

One module-scoped world: an MLflow tracking server (SQLite backend, proxied artefacts), a
champion trained on synthetic bars and registered through it, and the forecast service with
two workers polling the registry every half second. The registry outage test stops the
MLflow server, so it runs last.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import SYMBOL, store_bars, synthetic_bars, train_and_register
from tests.helpers import require_binary
from tests.support.processes import mlflow_server, serving, stop, wait_for
from volcast.serving.app import WORKER_HEADER
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("serve_live")]


@dataclass
class Live:
    url: str
    tracking_uri: str
    mlflow: subprocess.Popen[bytes]
    bars_root: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("serve-live")
    with mlflow_server(root) as (tracking_uri, mlflow):
        yield from _live(root, tracking_uri, mlflow)


def _live(root: Path, tracking_uri: str, mlflow: subprocess.Popen[bytes]) -> Iterator[Live]:
    bars = synthetic_bars(1200)
    store_bars(Storage(root / "data"), bars)
    train_and_register(bars, kind="lightgbm", tracking_uri=tracking_uri)
    env = {
        **os.environ,
        "VOLCAST_DATA_DIR": str(root / "data"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "VOLCAST_SERVE_MODEL_POLL_SECONDS": "0.5",
        "VOLCAST_SERVE_DATA_POLL_SECONDS": "0.5",
        "VOLCAST_SERVE_HISTORY_BARS": "1200",
        "VOLCAST_SERVE_REGISTRY_TIMEOUT_SECONDS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
    }
    with serving(root, env, workers=2) as url:
        yield Live(url, tracking_uri, mlflow, root)


def _predict_requests_total(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "api_requests":
            total += sum(
                s.value
                for s in family.samples
                if s.name == "api_requests_total" and s.labels["route"] == "/predict"
            )
    return total


def _predict_in_parallel(url: str, n: int) -> list[httpx.Response]:
    """``n`` forecasts by symbol from 6 threads, each request on a new connection."""

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=10) as client:  # new connection: any worker
            return client.post("/predict", json={"symbol": SYMBOL})

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(one, range(n)))


def test_two_workers_count_every_request(live: Live) -> None:
    before = _predict_requests_total(live.url)
    responses: list[httpx.Response] = []
    # the kernel spreads new connections over the workers; retry until both have answered
    for _ in range(10):
        responses += _predict_in_parallel(live.url, 40)
        if len({r.headers[WORKER_HEADER] for r in responses}) >= 2:
            break
    assert [r.status_code for r in responses] == [200] * len(responses)
    served = Counter(r.headers[WORKER_HEADER] for r in responses)
    assert len(served) == 2, served  # two distinct worker PIDs answered
    assert all(count > 0 for count in served.values())
    assert _predict_requests_total(live.url) - before == len(responses)


def test_metrics_pass_promtool(live: Live) -> None:
    promtool = require_binary("promtool")
    httpx.post(f"{live.url}/predict", json={"symbol": SYMBOL}, timeout=10)
    text = httpx.get(f"{live.url}/metrics", timeout=10).text
    for name in (
        "api_request_latency_seconds_bucket",
        "predictions_total",
        "service_uptime_seconds",
        "out_of_distribution_ratio",
        "feature_mean_shift",
        "prediction_variance",
        "data_freshness_seconds",
        "model_info",
    ):
        assert name in text, name
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


def test_hot_swap_under_load_fails_no_request(live: Live) -> None:
    before = httpx.post(f"{live.url}/predict", json={"symbol": SYMBOL}, timeout=10).json()
    failures: list[str] = []
    versions: set[int] = set()
    stop = threading.Event()

    def load_loop() -> None:
        with httpx.Client(base_url=live.url, timeout=10) as client:
            while not stop.is_set():
                response = client.post("/predict", json={"symbol": SYMBOL})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                else:
                    versions.add(response.json()["model"]["version"])

    threads = [threading.Thread(target=load_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        bars = synthetic_bars(1200)
        new = train_and_register(bars, kind="har", tracking_uri=live.tracking_uri)
        # every worker must serve the new version: several answers in a row carry it
        wait_for(
            lambda: all(
                httpx.post(f"{live.url}/predict", json={"symbol": SYMBOL}, timeout=10).json()[
                    "model"
                ]["version"]
                == new
                for _ in range(6)
            ),
            what="the new champion to be served",
            deadline=120,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert {before["model"]["version"], new} <= versions


def test_registry_outage_keeps_serving(live: Live) -> None:
    stop(live.mlflow)
    wait_for(
        lambda: httpx.get(f"{live.url}/ready", timeout=10).json()["status"] == "degraded",
        what="/ready to report the registry outage",
        deadline=120,
    )
    with httpx.Client(base_url=live.url, timeout=10) as client:
        for _ in range(20):
            response = client.post("/predict", json={"symbol": SYMBOL})
            assert response.status_code == 200
        ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["registry_reachable"] is False
