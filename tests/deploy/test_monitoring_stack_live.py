"""The monitoring stack against the real program.

A real ``prometheus`` (Debian package) with the shipped rules and a test-only config (1 s
scrape and evaluation intervals) scrapes a real ``volcast serve`` (a HAR champion in a SQLite
registry) and a stream-worker target that is down, and sends its alerts to a real Alertmanager
with the shipped routes, whose people's receivers post to ``alert_log.py``. Then:

- every recording rule and every dashboard query (panels, template variables, annotations)
  runs through Prometheus' HTTP API: each must parse, and return data wherever the metrics it
  reads exist on this fresh service (only the live loop's own gauges may be missing);
- the down stream target and the old synthetic bars raise target-down and data-stale alerts
  with the real labels, and Alertmanager delivers them to the alert log;
- stopping the API makes the target-down alert of the API fire and reach the log.

The alert rules are the shipped ones with every ``for`` shortened to 1 s (a test-only copy;
the ``for`` durations themselves are unit-tested by ``promtool test rules``).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from tests.api.conftest import INTERVAL, SYMBOL, store_bars, synthetic_bars, train_and_register
from tests.deploy.promql import metric_names
from tests.deploy.servers import (
    local_alertmanager_config,
    logged_alerts,
    recording_server,
    running_alert_log,
    running_alertmanager,
    running_prometheus,
)
from tests.deploy.test_grafana import DASHBOARDS, LIVE_LOOP_METRICS, queries
from tests.deploy.test_prometheus_rules import PROMETHEUS, rules
from tests.helpers import closed_port, require_binary
from tests.support.processes import serving, wait_for
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
    alert_log: Path
    root: Path


def fast_rules(root: Path, *, for_: str = "1s", alerts: Collection[str] | None = None) -> Path:
    """The shipped rule files in ``root/rules``, the ``for`` of ``alerts`` (default: every
    alert) set to ``for_``; expressions, labels and annotations unchanged."""
    folder = root / "rules"
    folder.mkdir()
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        groups = yaml.safe_load(path.read_text())
        for group in groups["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and (alerts is None or rule["alert"] in alerts):
                    rule["for"] = for_
        (folder / path.name).write_text(yaml.safe_dump(groups, sort_keys=False))
    return folder


def fast_prometheus_config(
    *, api: str, stream: str, alertmanager: str, rules_folder: Path
) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with 1 s intervals and this test's targets."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    config["rule_files"] = [str(rules_folder / "*.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["volcast-api"]["static_configs"][0]["targets"] = [api]
    jobs["volcast-stream"]["static_configs"][0]["targets"] = [stream]
    config["scrape_configs"] = [jobs["volcast-api"], jobs["volcast-stream"]]
    return config


def _traffic(url: str, stopped: threading.Event) -> None:
    """Forecasts, their feedback, health checks and a bad request, until ``stopped``."""
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
    require_binary("prometheus")
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
    with (
        running_alert_log(root) as (log_url, log_file),
        recording_server() as (webhook_url, _),
        running_alertmanager(
            root,
            local_alertmanager_config(root / "am", log_url=log_url, webhook_url=webhook_url),
        ) as alertmanager_url,
        serving(root, env, workers=1) as api_url,
        closed_port() as dead,
    ):
        api = api_url.removeprefix("http://")
        stream = f"127.0.0.1:{dead}"
        config = root / "prometheus.yml"
        settings = fast_prometheus_config(
            api=api,
            stream=stream,
            alertmanager=alertmanager_url.removeprefix("http://"),
            rules_folder=fast_rules(root),
        )
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
        checked = subprocess.run(
            [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        stopped = threading.Event()
        traffic = threading.Thread(target=_traffic, args=(api_url, stopped), daemon=True)
        traffic.start()
        try:
            with running_prometheus(root, config) as url:
                yield Stack(url, api_url, stream, log_file, root)
        finally:
            stopped.set()
            traffic.join(timeout=30)


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


def firing(stack: Stack) -> set[tuple[str, str]]:
    """(alertname, job or symbol) of every firing volcast alert in Prometheus."""
    found = set()
    for series in query(stack, 'ALERTS{alertname=~"Volcast.*", alertstate="firing"}'):
        labels = series["metric"]
        found.add((labels["alertname"], labels.get("job") or labels.get("symbol", "")))
    return found


def logged(stack: Stack) -> set[tuple[str, str, str]]:
    """(channel, alertname, job or symbol) of every alert the alert log received."""
    return {
        (channel, labels["alertname"], labels.get("job") or labels.get("symbol", ""))
        for channel, labels in logged_alerts(stack.alert_log)
    }


def test_alerts_fire_with_the_real_labels_and_reach_the_log(warmed: Stack) -> None:
    """The down stream target and the synthetic (old) bars: target down and data stale."""
    expected = {("VolcastTargetDown", "volcast-stream"), ("VolcastDataStale", SYMBOL)}
    seen = wait_for(
        lambda: firing(warmed) if expected <= firing(warmed) else None,
        what="the target-down and data-stale alerts to fire",
    )
    assert ("VolcastTargetDown", "volcast-api") not in seen
    # a champion is served and the registry answers: those alerts stay quiet
    assert not {name for name, _ in seen} & {"VolcastNoChampion", "VolcastRegistryUnreachable"}
    # Prometheus -> Alertmanager (shipped routes) -> the critical channel of the alert log
    wait_for(
        lambda: {("critical", *alert) for alert in expected} <= logged(warmed),
        what="Alertmanager to deliver both alerts to the alert log",
    )


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


def _serve_process(root: Path) -> psutil.Process:
    """The ``volcast serve`` process started in ``root`` (by ``serving()``)."""
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = process.info["cmdline"] or []
        if "volcast" in cmdline and "serve" in cmdline and process.info["cwd"] == str(root):
            return process
    pytest.fail("volcast serve is not running")


def test_stopping_the_api_fires_target_down(warmed: Stack) -> None:
    """Last in this module: it stops the API."""
    _serve_process(warmed.root).terminate()
    wait_for(
        lambda: ("VolcastTargetDown", "volcast-api") in firing(warmed),
        what="the API's target-down alert to fire",
    )
    wait_for(
        lambda: ("critical", "VolcastTargetDown", "volcast-api") in logged(warmed),
        what="the API's target-down alert in the alert log",
    )
