"""Helpers of the monitoring-stack tests: system binaries, Prometheus, Alertmanager, servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.helpers import REPO_ROOT, listening_port, require_binary
from tests.support.processes import stop, wait_for

ALERTMANAGER = REPO_ROOT / "deploy" / "alertmanager"
WEBHOOK_PATH = "/alerts/webhook"
WEBHOOK_TOKEN = "s3cret-test-token"
"""The test secrets' value, the volcast alert webhook's bearer token among them."""


def alertmanager_binary() -> str:
    """Debian names Alertmanager's binary ``prometheus-alertmanager``; upstream ``alertmanager``."""
    return shutil.which("alertmanager") or require_binary("prometheus-alertmanager")


@dataclass
class Received:
    """Requests a :func:`recording_server` got: (path, headers, JSON body)."""

    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[tuple[str, dict[str, str], Any]]:
        with self.lock:
            return list(self.requests)


@contextmanager
def recording_server() -> Iterator[tuple[str, Received]]:
    """An HTTP server on a free loopback port that answers 200 and records every POST.

    Records what Alertmanager delivers to a receiver, for the routing and inhibition tests;
    tests/deploy/test_alert_retrain_live.py delivers to the real ``POST /alerts/webhook``.
    """
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with received.lock:
                received.requests.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def local_alertmanager_config(
    root: Path,
    *,
    log_url: str,
    webhook_url: str,
    group_interval: str = "2s",
    repeat_interval: str | None = None,
) -> Path:
    """The shipped Alertmanager config with local URLs and 1 s group waits, beside its
    templates and (test) secrets, in ``root``; returns its path.

    Only timings and URLs change: routes, matchers, grouping, inhibition and receivers are the
    shipped ones. ``repeat_interval`` (every route) makes Alertmanager re-send a firing alert
    within a test; the shipped ones are hours. The volcast webhook's bearer token (the
    ``credentials_file``) is :data:`WEBHOOK_TOKEN`.
    """
    cfg: dict[str, Any] = yaml.safe_load((ALERTMANAGER / "alertmanager.yml").read_text())
    for route in [cfg["route"], *cfg["route"]["routes"]]:
        route.update(group_wait="1s", group_interval=group_interval)
        if repeat_interval is not None:
            route["repeat_interval"] = repeat_interval
    for receiver in cfg["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            base = webhook_url if hook["url"].endswith(WEBHOOK_PATH) else log_url
            hook["url"] = base + "/" + hook["url"].split("/", 3)[3]
    (root / "templates").mkdir(parents=True)
    for template in (ALERTMANAGER / "templates").glob("*.tmpl"):
        (root / "templates" / template.name).write_text(template.read_text())
    (root / "secrets").mkdir()
    for name in ("volcast-alert-webhook-token", "slack-webhook-url", "smtp-password"):
        (root / "secrets" / name).write_text(WEBHOOK_TOKEN)
    path = root / "alertmanager.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@contextmanager
def running_alert_log(root: Path) -> Iterator[tuple[str, Path]]:
    """deploy/alertmanager/alert_log.py on a free port: (its URL, its JSON-lines file)."""
    out = root / "alerts.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(ALERTMANAGER / "alert_log.py"), "--port", "0", "--file", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "alert_log.log").open("wb"),
    )
    try:
        yield f"http://127.0.0.1:{listening_port(process, timeout=30)}", out
    finally:
        stop(process)


def logged_alerts(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(channel, labels) of every alert in an alert_log.py file."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        found += [(record["channel"], a["labels"]) for a in record["notification"]["alerts"]]
    return found


@contextmanager
def running_alertmanager(root: Path, config: Path) -> Iterator[str]:
    """The Debian Alertmanager on a free port with ``config``, no clustering; yields its URL."""
    process = subprocess.Popen(
        [
            alertmanager_binary(),
            f"--config.file={config}",
            f"--storage.path={root / 'alertmanager-data'}",
            "--web.listen-address=127.0.0.1:0",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "alertmanager.log").open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{listening_port(process, timeout=60)}"
        wait_for(
            lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
            what="Alertmanager to be ready",
        )
        yield url
    finally:
        stop(process)


@contextmanager
def running_prometheus(root: Path, config: Path) -> Iterator[str]:
    """The Debian Prometheus on a free port with ``config`` (TSDB under ``root``); yields its
    URL once ready."""
    process = subprocess.Popen(
        [
            require_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            "--web.listen-address=127.0.0.1:0",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "prometheus.log").open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{listening_port(process, timeout=60)}"
        wait_for(
            lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
            what="Prometheus to be ready",
        )
        yield url
    finally:
        stop(process)
