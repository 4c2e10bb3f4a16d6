"""Fixtures that start real servers for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import listening_port
from volcast.config import get_settings

_SERVER_START_TIMEOUT = 180.0


def _log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` (SQLite backend, proxied artefacts) on a free loopback port.

    Shared by the whole session; each test uses its own symbol so registered models do not
    collide. Yields the server's URL.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",  # the OS picks a free port (no race under xdist); found by listening_port
        "--workers",
        "1",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no huey consumers: volcast runs no jobs
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{listening_port(process, timeout=_SERVER_START_TIMEOUT)}"
            deadline = time.monotonic() + _SERVER_START_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"mlflow server exited with {process.returncode}:\n{_log_tail(log_path)}"
                    )
                try:
                    if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not become healthy:\n{_log_tail(log_path)}")
                time.sleep(0.5)
            yield url
        finally:
            # The server runs workers in its own process group: stop the whole group we started.
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


@pytest.fixture
def tracking_server(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point volcast (``MLFLOW_TRACKING_URI``) at the shared server for this test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    get_settings.cache_clear()
    return mlflow_server
