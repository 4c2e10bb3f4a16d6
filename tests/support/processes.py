"""Starting, waiting for and stopping the real processes of the integration and deploy tests.

``volcast serve`` and ``mlflow server`` on OS-chosen ports (found by
:func:`tests.helpers.listening_port`, no race under xdist), :func:`wait_for` a condition, and
:func:`stop` a process (SIGTERM, then SIGKILL after 20 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import listening_port


def wait_for(check: Callable[[], Any], *, what: str, deadline: float = 60.0) -> Any:
    """Poll ``check()`` until it returns something truthy (returned); an HTTP error counts as
    not yet. Fails the test naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` if it still runs; kill it when it has not exited in 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving(root: Path, env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """``volcast serve`` on an OS-chosen port until ready; yields its URL, stops it after."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "volcast",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=(root / "serve.log").open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{listening_port(server)}"
        wait_for(
            lambda: httpx.get(f"{url}/ready", timeout=5).status_code == 200,
            what="the forecast service to be ready",
            deadline=180,
        )
        yield url
    finally:
        stop(server)


@contextmanager
def mlflow_server(root: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``mlflow server`` (SQLite backend, proxied artefacts under ``root``) until ready;
    yields its URL and process, stops it after."""
    mlflow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "mlflow.log").open("wb"),
        # no huey job consumers (eight processes at start-up): volcast runs no MLflow jobs
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        tracking_uri = f"http://127.0.0.1:{listening_port(mlflow)}"
        wait_for(
            lambda: httpx.get(f"{tracking_uri}/health", timeout=2).status_code == 200,
            what="the MLflow server",
            deadline=120,
        )
        yield tracking_uri, mlflow
    finally:
        stop(mlflow)
