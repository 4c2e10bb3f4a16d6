"""`dvc repro` runs the real pipeline in a temporary git repository and `dvc push` stores it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT, require_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_dvc_repro_and_push(tmp_path: Path) -> None:
    git = require_binary("git")
    bindir = Path(sys.executable).parent
    dvc = str(bindir / "dvc")
    repo = tmp_path / "clone"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "dvc.yaml", repo / "dvc.yaml")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["sample"]["n_bars"] = 800  # keep the run short; the stages are the same
    params["profile"]["max_rows"] = 300
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "VOLCAST_DATA_DIR": "data",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    _run([git, "init", "-q"], repo, env)
    _run([dvc, "init", "-q"], repo, env)
    _run([dvc, "config", "core.analytics", "false"], repo, env)
    first = _run([dvc, "repro"], repo, env)
    assert "Running stage 'features'" in first.stdout
    dataset = repo / "data" / "datasets" / "eurusd" / "1h" / "features.parquet"
    assert dataset.exists()
    assert (repo / "data" / "reports" / "profile" / "eurusd_1h.html").exists()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"ingest", "validate", "features"}
    assert lock["stages"]["features"]["params"]["params.yaml"]["target"]["estimator"] == (
        "garman_klass"
    )

    # nothing changed upstream: ingest reruns (always_changed) but features is not rebuilt
    before = dataset.stat().st_mtime_ns
    second = _run([dvc, "repro"], repo, env)
    assert "Stage 'features' didn't change, skipping" in second.stdout
    assert dataset.stat().st_mtime_ns == before

    remote = tmp_path / "remote"
    _run([dvc, "remote", "add", "-d", "local", str(remote)], repo, env)
    _run([dvc, "push"], repo, env)
    pushed = [p for p in remote.rglob("*") if p.is_file()]
    assert len(pushed) >= 3  # raw payload, curated bars, dataset at least

    # the remote alone restores the dataset
    shutil.rmtree(repo / "data" / "datasets")
    _run([dvc, "checkout", "features"], repo, env)
    assert dataset.exists()

    # changing a parameter reruns the features stage
    params["target"]["estimator"] = "parkinson"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    third = _run([dvc, "repro"], repo, env)
    assert "Running stage 'features'" in third.stdout
