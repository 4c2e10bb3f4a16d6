"""Library logs stay off the terminal: MLflow and alembic chatter goes to the log file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from volcast.cli.logs import LOG_NAME, log_path

pytestmark = pytest.mark.integration

# Small enough to train in seconds; still registers a model (MLflow logs) on a new store
# (alembic migrations).
_PARAMS = """\
sample:
  n_bars: 1400
  seed: 7
  start: "2024-01-01T00:00:00Z"
profile:
  enabled: false
train:
  candidates: [persistence, ewma, har]
  min_train_bars: 400
  refit_every: 400
promotion:
  window_bars: 200
"""

# A library's log line or MLflow's own prints, as they looked on the terminal before.
_LIBRARY_LINE = re.compile(
    r"(INFO|WARNING|DEBUG)\s+(mlflow|alembic)[\w.]*:|Successfully registered model|CloudPickle"
)


def _pipeline(tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "params.yaml").write_text(_PARAMS)
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VOLCAST_"))}
    env["VOLCAST_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "volcast", *flags, "pipeline"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result, data_dir


@pytest.mark.slow
def test_pipeline_terminal_shows_volcast_only_and_the_log_file_gets_the_rest(
    tmp_path: Path,
) -> None:
    result, data_dir = _pipeline(tmp_path)
    terminal = result.stdout + result.stderr
    assert not _LIBRARY_LINE.search(terminal), terminal
    assert "train EUR/USD 1h: challenger" in result.stdout
    log_file = data_dir / "logs" / LOG_NAME
    assert f"library logs: {log_file}" in result.stdout
    logged = log_file.read_text()
    assert re.search(r"INFO alembic\.runtime\.migration: Running upgrade", logged)
    assert re.search(r"(INFO|WARNING) mlflow\.", logged)
    assert "Successfully registered model 'volcast-eurusd-1h'" in logged


@pytest.mark.slow
def test_verbose_shows_library_logs_on_the_terminal(tmp_path: Path) -> None:
    result, data_dir = _pipeline(tmp_path, "--verbose")
    assert re.search(r"INFO alembic\.runtime\.migration: Running upgrade", result.stderr)
    assert re.search(r"(INFO|WARNING) mlflow\.", result.stderr)
    assert "Successfully registered model" in result.stderr
    assert "train EUR/USD 1h: challenger" in result.stdout  # results stay on stdout
    assert "Running upgrade" in (data_dir / "logs" / LOG_NAME).read_text()  # and the file


def test_log_file_lives_under_the_data_directory_or_a_local_fallback(tmp_path: Path) -> None:
    assert log_path(str(tmp_path / "data")) == (tmp_path / "data" / "logs" / LOG_NAME, False)
    fallback, is_fallback = log_path("s3://bucket/prefix")
    assert is_fallback
    assert fallback.name == LOG_NAME
    assert "://" not in str(fallback)


HEAVY = ("mlflow", "sklearn", "lightgbm", "arch", "ydata_profiling", "matplotlib")


def test_the_cli_imports_no_mlflow_or_modelling_stack_before_a_command_runs() -> None:
    """MLflow must load after the log routing told it to leave logging alone; and a CLI that
    imports MLflow or the modelling stack up front is seconds slower on every command
    (``--help`` included). ``volcast.cli`` is what the console script imports."""
    probe = f"import sys, volcast.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.strip() == "[]", run.stdout + run.stderr
