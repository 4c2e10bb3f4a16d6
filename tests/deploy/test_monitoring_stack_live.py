"""The monitoring stack against the real program: a real ``prometheus`` (Debian package) with
the shipped rules and a test-only config (1 s scrape and evaluation intervals) scrapes a real
``volcast serve`` (a HAR champion in a SQLite registry) and a stream-worker
target that is down. Then every recording rule and every dashboard query (panels, template
variables, annotations) runs through Prometheus' HTTP API: each must parse, and return data
wherever the metrics it reads exist on this fresh service (the live loop's own gauges do not
exist until ``volcast stream`` exports them: those queries must parse and are reported).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import INTERVAL, SYMBOL, store_bars, synthetic_bars, train_and_register
from tests.deploy.promql import metric_names
from tests.deploy.servers import stop, wait_for
from tests.deploy.test_grafana import DASHBOARDS, LIVE_LOOP_METRICS, queries
from tests.deploy.test_prometheus_rules import PROMETHEUS, rules
from tests.helpers import closed_port, listening_port, require_binary
from tests.integration.test_serve_live import serving
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("monstack")]

# Grafana's variables, as a person viewing every series would have them.
VARIABLES = {
    "$__rate_interval": "15s",
    "$symbol": ".*",
    "$interval": ".*",
    "$job": "volcast-api",
}


# Metrics a fresh `volcast serve` without a stream worker does not export.
NOT_ON_A_FRESH_SERVICE = LIVE_LOOP_METRICS | {"prediction_errors_total"}


@dataclass
class Stack:
    prometheus: str
    api: str
    stream_target: str


def fast_prometheus_config(api: str, stream: str, scrape_interval: str = "1s") -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with fast intervals and this test's targets."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(
        scrape_interval=scrape_interval,
        evaluation_interval=scrape_interval,
        scrape_timeout=scrape_interval,
    )
    config["rule_files"] = [str(PROMETHEUS / "rules" / "*.yml")]
    config.pop("alerting")  # Alertmanager has its own test (test_alertmanager.py)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["volcast-api"]["static_configs"][0]["targets"] = [api]
    jobs["volcast-stream"]["static_configs"][0]["targets"] = [stream]
    config["scrape_configs"] = [jobs["volcast-api"], jobs["volcast-stream"]]
    return config


def _traffic(url: str, stopped: threading.Event) -> None:
    """Forecasts, health checks and a bad request, a few a second, until ``stopped``."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stopped.is_set():
            try:
                forecast = client.post("/predict", json={"symbol": SYMBOL}).json()
                client.post(
                    "/feedback",
                    json={
                        "symbol": SYMBOL,
                        "as_of": forecast["as_of"],
                        "realized_variance": forecast["variance"] * 1.3,
                    },
                )
                client.get("/health")
                client.post("/predict", json={"symbol": "NOPE/NOPE"})  # a 4xx
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            stopped.wait(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = require_binary("prometheus")
    promtool = require_binary("promtool")
    root = tmp_path_factory.mktemp("monstack")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    bars = synthetic_bars(1200)
    store_bars(Storage(root / "data"), bars)
    train_and_register(bars, kind="har", tracking_uri=tracking_uri)
    env = {
        **os.environ,
        "VOLCAST_DATA_DIR": str(root / "data"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "VOLCAST_SERVE_HISTORY_BARS": "1200",
        "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
    }
    with serving(root, env, workers=1) as api_url, closed_port() as dead:
        api = api_url.removeprefix("http://")
        stream = f"127.0.0.1:{dead}"
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(fast_prometheus_config(api, stream), sort_keys=False))
        checked = subprocess.run(
            [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        stopped = threading.Event()
        traffic = threading.Thread(target=_traffic, args=(api_url, stopped), daemon=True)
        traffic.start()
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                "--web.listen-address=127.0.0.1:0",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(root / "prometheus.log").open("wb"),
        )
        try:
            url = f"http://127.0.0.1:{listening_port(server, timeout=60)}"
            wait_for(
                lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
                what="Prometheus to be ready",
            )
            yield Stack(url, api_url, stream)
        finally:
            stopped.set()
            traffic.join(timeout=30)
            stop(server)


def query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    """Run an instant query; fail with Prometheus' error when it does not parse or run."""
    response = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200, f"{expr!r}: {body.get('error')}"
    assert body["status"] == "success", f"{expr!r}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def names_in_prometheus(stack: Stack) -> set[str]:
    response = httpx.get(f"{stack.prometheus}/api/v1/label/__name__/values", timeout=10)
    return set(response.json()["data"])


@pytest.fixture(scope="module")
def warmed(stack: Stack) -> Stack:
    """The stack once every recording rule has data (a few scrapes and evaluations)."""
    recorded = [rule["record"] for rule in rules("record")]

    def all_recorded() -> bool:
        return all(query(stack, f"count({name})") for name in recorded)

    wait_for(all_recorded, what="every recording rule to have data", deadline=90)
    return stack


def test_every_recording_rule_returns_data(warmed: Stack) -> None:
    for rule in rules("record"):
        result = query(warmed, rule["record"])
        assert result, rule["record"]
        if rule["record"].startswith("job"):
            assert {series["metric"]["job"] for series in result} == {"volcast-api"}
    # traffic flows: a positive request rate, a 0 error ratio (the 4xx are not errors)
    (rate,) = query(warmed, "job:api_requests:rate5m")
    assert float(rate["value"][1]) > 0
    (ratio,) = query(warmed, "job:api_request_errors:ratio_rate5m")
    assert float(ratio["value"][1]) == 0.0
    (p95,) = query(warmed, "job:api_request_latency_seconds:p95_5m")
    assert 0 < float(p95["value"][1]) < 5


def test_alerts_see_the_real_labels(warmed: Stack) -> None:
    """A down stream target and the synthetic (old) bars make two alerts pend at once."""

    def pending() -> set[tuple[str, str]]:
        found = set()
        for series in query(warmed, 'ALERTS{alertname=~"Volcast.*"}'):
            labels = series["metric"]
            found.add((labels["alertname"], labels.get("job") or labels.get("symbol", "")))
        return found

    seen = wait_for(
        lambda: (
            {("VolcastTargetDown", "volcast-stream"), ("VolcastDataStale", SYMBOL)} <= pending()
            and pending()
        ),
        what="the target-down and data-stale alerts",
    )
    assert ("VolcastTargetDown", "volcast-api") not in seen
    # a champion is served and the registry answers: those alerts stay quiet
    assert not {name for name, _ in seen} & {"VolcastNoChampion", "VolcastRegistryUnreachable"}


def _substitute(expr: str) -> str:
    for name, value in sorted(VARIABLES.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted variable in {expr!r}"
    return expr


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_every_dashboard_query_runs_and_returns_data(warmed: Stack, path: Path) -> None:
    present = names_in_prometheus(warmed)
    board = json.loads(path.read_text())
    empty: list[str] = []
    for where, expr in queries(board):
        if expr.startswith("label_values("):
            metric, label = expr.removeprefix("label_values(").removesuffix(")").rsplit(",", 1)
            expr = f"count by ({label.strip()}) ({metric})"
        expr = _substitute(expr)
        result = query(warmed, expr)
        needs = metric_names(expr)
        if where.startswith("annotation"):
            continue  # an event marker: empty until the event happens
        if not needs <= present:
            # only the live loop's gauges, and counters of events that did not happen, may
            # be missing on a fresh service
            assert needs - present <= NOT_ON_A_FRESH_SERVICE, f"{where}: {needs - present}"
            continue
        if not result:
            empty.append(f"{where}: {expr}")
    assert empty == [], "queries without data:\n" + "\n".join(empty)


def test_the_api_exports_what_the_dashboards_read(warmed: Stack) -> None:
    """The API's own metrics are all in Prometheus (only the live loop's may be missing)."""
    present = names_in_prometheus(warmed)
    for expected in (
        "api_requests_total",
        "api_request_latency_seconds_bucket",
        "predictions_total",
        "data_freshness_seconds",
        "model_info",
        "model_registry_up",
        "prediction_variance",
        "service_uptime_seconds",
        "forecast_loss_qlike",
        "feedback_total",
    ):
        assert expected in present, expected
    assert INTERVAL == "1h"
