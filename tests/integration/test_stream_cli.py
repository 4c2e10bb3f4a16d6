"""`volcast stream --replay` on a registered champion: kill -9 and SIGTERM, then resume.

The pipeline runs once on the first part of a series (real MLflow store under the data
directory); each test copies that data directory and replays the rest of the file through
the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import listening_port
from tests.integration.test_live_loop_e2e import shifted_bars
from volcast.config import Params
from volcast.pipeline.monitor_store import MonitorStore
from volcast.series import Series
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERIES = Series("EUR/USD", "1h")
N_HISTORY, N_TOTAL = 1400, 1520
SHIFT = N_HISTORY + 10  # volatility x3 from here on: the replay raises events before the kill


def series_bars(n: int) -> pd.DataFrame:
    return shifted_bars(n, shift_at=SHIFT, factor=3.0)


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLCAST_", "MLFLOW_"))}
    env["VOLCAST_DATA_DIR"] = str(data_dir)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "volcast", *args]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with curated history, a registered champion, and the files."""
    root = tmp_path_factory.mktemp("stream-cli")
    bars = series_bars(N_TOTAL)
    bars.iloc[:N_HISTORY].to_csv(root / "history.csv", index=False)
    bars.to_csv(root / "full.csv", index=False)
    params = Params().model_dump(mode="json", exclude={"extra"})
    params["profile"]["enabled"] = False
    params["train"]["candidates"] = ["persistence", "ewma", "har", "lightgbm"]
    params["train"]["lightgbm"]["n_estimators"] = 50
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run = subprocess.run(
        [
            *cli("pipeline", "--source", "csv", "--path", str(root / "history.csv")),
            "--symbol",
            SERIES.symbol,
            "--interval",
            SERIES.interval,
        ],
        cwd=root,
        env=env_for(root / "data"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def replay(root: Path, data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *cli("stream", "--replay", "--speed", "0", "--source", "csv", "--path"),
            str(root / "full.csv"),
            "--symbol",
            SERIES.symbol,
            "--interval",
            SERIES.interval,
            *extra,
        ],
        cwd=root,
        env=env_for(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def logged_rows(store: MonitorStore) -> int:
    try:
        return len(store.read_log())
    except Exception:  # mid-replace on a slow disk: try again
        return -1


def wait_for_rows(store: MonitorStore, process: subprocess.Popen[str], rows: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if logged_rows(store) >= rows:
            return
        if process.poll() is not None:
            pytest.fail(f"stream exited early ({process.returncode}): {process.stdout.read()}")  # type: ignore[union-attr]
        time.sleep(0.05)
    pytest.fail(f"fewer than {rows} forecast rows after 300 s")


def assert_every_bar_once(store: MonitorStore) -> pd.DataFrame:
    log = store.read_log()
    expected = pd.date_range("2024-01-01", periods=N_TOTAL, freq="h", tz="UTC")[
        N_HISTORY - 1 :
    ]  # the latest curated bar when the loop started, then every new one
    assert log["timestamp"].is_unique
    assert list(log["timestamp"]) == list(expected)
    assert log["realized_variance"].iloc[:-1].notna().all()
    assert log["model_version"].notna().all()
    return log


def test_kill_9_mid_replay_then_restart_logs_every_bar_exactly_once(
    trained: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(trained / "data", data_dir)
    store = MonitorStore(Storage(data_dir), SERIES)
    first = replay(trained, data_dir)
    wait_for_rows(store, first, 40)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed_at = logged_rows(store)
    assert 40 <= killed_at < N_TOTAL - N_HISTORY  # the kill landed mid-replay
    second = replay(trained, data_dir)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    assert_every_bar_once(store)
    lines = (data_dir / SERIES.layout.monitoring_dir / "events.jsonl").read_text().splitlines()
    assert any('"drift"' in line for line in lines)  # the shift was seen
    assert len(lines) == len(set(lines))  # no event written twice


def test_sigterm_finishes_the_bar_and_exits_cleanly_then_resumes(
    trained: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(trained / "data", data_dir)
    store = MonitorStore(Storage(data_dir), SERIES)
    first = replay(trained, data_dir, "--metrics-port", "0")
    port = listening_port(first)  # type: ignore[arg-type]
    wait_for_rows(store, first, 30)
    # the worker's own /metrics, for Prometheus' volcast-stream job
    samples = {
        (s.name, s.labels.get("symbol")): s.value
        for family in text_string_to_metric_families(
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        )
        for s in family.samples
    }
    assert samples[("stream_bars_processed_total", SERIES.symbol)] >= 29
    assert samples[("stream_retrains_total", SERIES.symbol)] >= 0
    assert samples[("stream_source_errors_total", SERIES.symbol)] == 0
    assert samples[("monitoring_last_bar_timestamp_seconds", SERIES.symbol)] >= pd.Timestamp(
        "2024-01-01", tz="UTC"
    ).timestamp() + 3600 * (N_HISTORY + 27)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out
    assert "(stopped)" in out
    state = store.read_state()
    log = store.read_log()
    assert state.last_processed == log["timestamp"].iloc[-1]  # state and log agree
    second = replay(trained, data_dir)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    log = assert_every_bar_once(store)
    curated = Storage(data_dir).read_parquet(SERIES.layout.curated_bars)
    assert len(curated) == N_TOTAL
    summary = store.read_summary()
    assert summary is not None
    assert summary["bars"] == len(log) - 1  # every forecast but the last was realized, once
    assert summary["model_version"] == int(log["model_version"].iloc[-1])
