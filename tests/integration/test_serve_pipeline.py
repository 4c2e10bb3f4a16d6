"""End to end: `volcast pipeline` (sample source) then `volcast serve` as a real process.

The pipeline trains the candidates, registers the winner and promotes it to ``@champion``;
the server, started in the same directory with no other configuration, must answer a
forecast by symbol from that champion. The parameter file is the repository's with a
shorter sample and the faster candidates (sequential ones included) to keep the run short.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import listening_port
from volcast.registry import CHAMPION

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("serve_live")]

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "EUR/USD"


def _params(path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["sample"]["n_bars"] = 2500
    params["train"]["candidates"] = ["persistence", "ewma", "garch", "har"]
    params["profile"]["enabled"] = False
    path.write_text(yaml.safe_dump(params))


def test_pipeline_then_serve_answers_with_the_champion(tmp_path: Path) -> None:
    _params(tmp_path / "params.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLCAST_", "MLFLOW_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    volcast = [sys.executable, "-m", "volcast"]
    run = subprocess.run(
        [*volcast, "pipeline"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tracking = f"sqlite:///{tmp_path / 'data' / 'mlflow.db'}"
    champion = MlflowClient(
        tracking_uri=tracking, registry_uri=tracking
    ).get_model_version_by_alias("volcast-eurusd-1h", CHAMPION)

    server = subprocess.Popen(
        [*volcast, "serve", "--port", "0"],  # the OS picks a free port: no race
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{listening_port(server)}"
        deadline = time.monotonic() + 120
        ready = False
        while not ready and time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.5)
        assert ready, f"volcast serve never became ready (exit {server.poll()})"
        response = httpx.post(f"{url}/predict", json={"symbol": SYMBOL}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["version"] == int(champion.version)
        assert body["model"]["alias"] == CHAMPION
        assert body["variance"] > 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
