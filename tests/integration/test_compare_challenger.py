"""The CI scripts of the dev -> test and test -> master workflows, run against a real MLflow
server: the challenger comparison (CML comment written; passes for a better challenger, fails
for a worse one, moves no alias), fetching the champion, and the smoke test of a running
``volcast serve``.

One registry story, in order (each step needs the previous one's state):
v1 = persistence only, crowned by ``volcast pipeline``; v2 = HAR, registered ``@challenger`` by
``scripts/ci/train_challenger.sh`` on the same fixed sample dataset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from tests.helpers import REPO_ROOT, closed_port
from tests.support.processes import serving
from volcast.cli import app

# a dozen volcast processes in turn (each imports MLflow): minutes on a loaded 2-core machine
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]
SCRIPTS = REPO_ROOT / "scripts" / "ci"
runner = CliRunner()
MODEL = "volcast-cmpeurusd-1h"
SYMBOL = "CMP/EURUSD"  # its own registered model on the session's shared server


def _config(tmp_path: Path, name: str, candidates: list[str]) -> Path:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["data"]["symbol"] = SYMBOL
    params["instruments"] = [{"symbol": SYMBOL, "interval": "1h", "source": "sample"}]
    params["sample"]["n_bars"] = 1600
    params["profile"]["enabled"] = False
    params["train"].update({"min_train_bars": 600, "refit_every": 400, "candidates": candidates})
    params["promotion"]["window_bars"] = 200
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _run(
    command: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode in ok, (
        f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


def _aliases(tracking_uri: str) -> dict[str, int]:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return {k: int(v) for k, v in client.get_registered_model(MODEL).aliases.items()}


def test_ci_scripts_against_a_real_mlflow_server(
    tmp_path: Path, data_dir: Path, tracking_server: str
) -> None:
    mlflow_server = tracking_server
    volcast = str(Path(sys.executable).parent / "volcast")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITHUB_"))}
    inherited.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode: ~10 s less per process
    env: dict[str, Any] = {
        **inherited,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "VOLCAST_DATA_DIR": str(data_dir),
        "VOLCAST_BIN": volcast,
        "VOLCAST_CI_SYMBOL": SYMBOL,
        "VOLCAST_CI_INTERVAL": "1h",
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
    }
    # v1: the persistence forecast, crowned as the first champion
    weak = _config(tmp_path, "weak", ["persistence"])
    result = runner.invoke(app, ["pipeline", "--config", str(weak)])  # set-up: in-process
    assert result.exit_code == 0, result.output
    assert _aliases(mlflow_server) == {"champion": 1, "challenger": 1}

    # v2: HAR trained by the dev -> test script on the same fixed dataset; no promotion
    env["VOLCAST_CI_CONFIG"] = str(_config(tmp_path, "strong", ["har"]))
    _run(["bash", str(SCRIPTS / "train_challenger.sh")], env)
    assert _aliases(mlflow_server) == {"champion": 1, "challenger": 2}

    # a better challenger passes, and the comment is written with the table and the plot
    better_dir = tmp_path / "better"
    passed = _run(
        ["bash", str(SCRIPTS / "compare_challenger.sh")],
        {**env, "VOLCAST_CI_REPORT_DIR": str(better_dir)},
    )
    comment = better_dir / "comparison_cmpeurusd_1h.md"
    text = comment.read_text()
    assert text.startswith("**CI check: PASSED** (challenger v2 against champion v1")
    assert "**Promotion rule: the challenger would be promoted**" in text
    assert f"| challenger | {MODEL} v2 |" in text
    assert f"| champion | {MODEL} v1 |" in text
    assert "](forecast_cmpeurusd_1h.png)" in text
    # the same markdown summary as `volcast report --markdown` follows the verdict
    summary = (better_dir / "report.md").read_text()
    assert "### Backtest (DM vs best baseline" in summary
    assert text.endswith(summary)
    assert "### Promotion history" in summary
    assert "volcast report: CMP/EURUSD 1h" in (better_dir / "report.html").read_text()
    assert (better_dir / "forecast_cmpeurusd_1h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"comment={comment}" in passed.stdout
    assert f"comment={comment}" in (tmp_path / "github_output").read_text()
    assert _aliases(mlflow_server) == {"champion": 1, "challenger": 2}  # read-only

    # promotion (the master side) crowns v2; the fetch step publishes its version
    result = runner.invoke(app, ["promote", "--config", env["VOLCAST_CI_CONFIG"]])
    assert result.exit_code == 0, result.output
    assert _aliases(mlflow_server)["champion"] == 2
    model_dir = tmp_path / "champion"
    fetched = _run(
        ["bash", str(SCRIPTS / "fetch_champion.sh")],
        {**env, "VOLCAST_CI_MODEL_DIR": str(model_dir)},
    )
    assert f"model={MODEL}" in fetched.stdout
    assert "version=2" in fetched.stdout
    assert (model_dir / "MLmodel").exists()
    assert (model_dir / "serving_input_example.json").exists()
    nothing = _run(
        ["bash", str(SCRIPTS / "fetch_champion.sh")],
        {**env, "VOLCAST_CI_SYMBOL": "NONE/XX", "VOLCAST_CI_MODEL_DIR": str(tmp_path / "none")},
        ok=(6,),
    )
    assert "version=" not in nothing.stdout

    # a worse challenger (v1, persistence, against champion v2) fails the check with exit 9
    worse_dir = tmp_path / "worse"
    _run(
        ["bash", str(SCRIPTS / "compare_challenger.sh")],
        {**env, "VOLCAST_CI_REPORT_DIR": str(worse_dir), "VOLCAST_CI_CHALLENGER": "1"},
        ok=(9,),
    )
    worse = (worse_dir / "comparison_cmpeurusd_1h.md").read_text()
    assert worse.startswith("**CI check: FAILED** (challenger v1 against champion v2")
    assert "**Promotion rule: the challenger would be rejected**" in worse
    assert f"| champion | {MODEL} v2 |" in worse
    assert (worse_dir / "forecast_cmpeurusd_1h.png").exists()
    assert _aliases(mlflow_server)["champion"] == 2

    # an error is not a verdict: an unknown challenger exits 6 and writes no comment
    missing_dir = tmp_path / "missing"
    _run(
        ["bash", str(SCRIPTS / "compare_challenger.sh")],
        {**env, "VOLCAST_CI_REPORT_DIR": str(missing_dir), "VOLCAST_CI_CHALLENGER": "nosuch"},
        ok=(6,),
    )
    assert not list(missing_dir.glob("*.md"))

    # the smoke test of the test -> master workflow, on the champion served for real
    serve_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    smoke = [sys.executable, str(SCRIPTS / "smoke_test.py"), "--symbol", SYMBOL]
    with serving(tmp_path, serve_env) as url:
        ok = _run([*smoke, "--url", url, "--expect-version", "2"], env)
        assert "ok: /predict" in ok.stdout
        stale = _run([*smoke, "--url", url, "--expect-version", "1"], env, ok=(1,))
        assert "served by version 2, expected 1" in stale.stderr
    with closed_port() as port:
        down = _run([*smoke, "--url", f"http://127.0.0.1:{port}", "--timeout", "3"], env, ok=(1,))
        assert "GET /health never answered 200" in down.stderr
