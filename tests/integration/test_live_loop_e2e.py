"""The whole live loop end to end, every part real (issue 8's acceptance test).

A real ``mlflow server``; ``volcast pipeline`` on the first part of a series; ``volcast serve``
with two workers on the same data directory and registry, answering forecasts all along;
then ``volcast stream --replay`` over the rest of the series, where the volatility jumps
(returns and ranges x3, variance x9). The stream must see it (drift or decay), retrain and
promote; the API must pick the new champion up with no failed request; and both API workers
must export the stream worker's drift and loss gauges, with the same values.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import mlflow_server, serving, wait_for
from volcast.config import Params
from volcast.pipeline.monitor_store import MonitorStore
from volcast.series import Series
from volcast.serving.app import WORKER_HEADER
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERIES = Series("EUR/USD", "1h")
N_HISTORY, N_REPLAY, SHIFT_AFTER, FACTOR = 1400, 260, 30, 3.0
WATCHED = (
    "forecast_loss_qlike",
    "forecast_loss_training_qlike",
    "decay_statistic",
    "decay_detected",
    "out_of_distribution_ratio",
    "out_of_distribution_threshold",
    "drift_detected",
    "monitoring_events",
    "monitoring_last_bar_timestamp_seconds",
)


def shifted_bars(n: int, *, shift_at: int, factor: float) -> pd.DataFrame:
    """Hourly bars (SYNTHETIC) whose log returns and ranges are x ``factor`` from ``shift_at``."""
    rng = np.random.default_rng(11)
    scale = 1e-3 * np.exp(0.3 * np.sin(np.arange(n) / 50.0))
    scale[shift_at:] *= factor
    returns = rng.standard_normal(n) * scale
    close = 1.1 * np.exp(np.cumsum(returns))
    open_ = np.r_[1.1, close[:-1]]
    wiggle = np.abs(rng.standard_normal(n)) * scale
    stamps = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wiggle),
            "low": np.minimum(open_, close) * np.exp(-wiggle),
            "close": close,
            "volume": 1.0,
        }
    )


def volcast(*args: str) -> list[str]:
    return [sys.executable, "-m", "volcast", *args]


def series_args(path: Path) -> list[str]:
    return [
        "--source", "csv", "--path", str(path),
        "--symbol", SERIES.symbol, "--interval", SERIES.interval,
    ]  # fmt: skip


def watched_gauges(text: str) -> dict[str, float]:
    """The stream-state gauges of the series in one /metrics text, keyed name{labels}."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in WATCHED and sample.labels.get("symbol") == SERIES.symbol:
                labels = ",".join(
                    f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "symbol"
                )
                out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


class Load:
    """Forecast requests in a loop on a thread: every status and served version, in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.versions: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/predict", json={"symbol": SERIES.symbol})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.statuses.append(response.status_code)
                if response.status_code == 200:
                    self.versions.append(int(response.json()["model"]["version"]))
                else:
                    self.failures.append(response.text[:300])
                time.sleep(0.05)


def test_the_loop_detects_a_shift_retrains_and_the_api_serves_the_new_champion(
    tmp_path: Path,
) -> None:
    root = tmp_path
    bars = shifted_bars(N_HISTORY + N_REPLAY, shift_at=N_HISTORY + SHIFT_AFTER, factor=FACTOR)
    bars.iloc[:N_HISTORY].to_csv(root / "history.csv", index=False)
    bars.to_csv(root / "full.csv", index=False)
    params = Params().model_dump(mode="json", exclude={"extra"})
    params["profile"]["enabled"] = False
    params["train"]["candidates"] = ["persistence", "ewma", "lightgbm"]
    params["train"]["lightgbm"]["n_estimators"] = 50
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    data_dir = root / "data"

    with mlflow_server(root) as (tracking_uri, _):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLCAST_", "MLFLOW_"))}
        env |= {
            "VOLCAST_DATA_DIR": str(data_dir),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "VOLCAST_SERVE_MODEL_POLL_SECONDS": "0.5",
            "VOLCAST_SERVE_DATA_POLL_SECONDS": "0.5",
            "VOLCAST_SERVE_REGISTRY_TIMEOUT_SECONDS": "5",
            "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
        }
        pipeline = subprocess.run(
            [*volcast("pipeline"), *series_args(root / "history.csv")],
            cwd=root, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert pipeline.returncode == 0, pipeline.stdout + pipeline.stderr

        with serving(root, env, workers=2) as url, Load(url) as load:
            wait_for(lambda: len(load.versions) >= 5, what="the first forecasts", deadline=120)
            first_version = load.versions[0]
            stream = subprocess.run(
                [*volcast("stream", "--replay", "--speed", "0"), *series_args(root / "full.csv")],
                cwd=root, env=env, capture_output=True, text=True, timeout=1200,
            )  # fmt: skip
            assert stream.returncode == 0, stream.stdout[-3000:] + stream.stderr[-3000:]
            store = MonitorStore(Storage(data_dir), SERIES)
            events = store.read_events()
            kinds = [e.event for e in events]
            promoted = [e for e in events if e.event == "promoted"]
            assert promoted, f"no promotion; events: {[(e.event, e.detail) for e in events]}"
            new_version = int(store.read_log()["model_version"].iloc[-1])
            assert new_version != first_version
            wait_for(
                lambda: load.versions and load.versions[-1] == new_version,
                what=f"the API to serve v{new_version}",
                deadline=60,
            )
            time.sleep(1.0)  # a few more requests on the new champion

        # the shift was seen (drift or decay) at or after it, then retrain and promotion
        shift = pd.Timestamp(bars["timestamp"].iloc[N_HISTORY + SHIFT_AFTER])
        seen = [e for e in events if e.event in ("drift", "decay")]
        assert seen, kinds
        assert seen[0].time >= shift
        assert kinds.index("retrain_started") < kinds.index("retrain_done")
        assert kinds.index("retrain_done") < kinds.index("promoted")
        assert promoted[0].time >= seen[0].time

        # no request failed while the loop ran, retrained and the champion changed
        assert load.failures == []
        assert set(load.statuses) == {200}
        assert first_version in load.versions
        assert load.versions[-1] == new_version

        # both workers export the stream worker's gauges, with the same values as its state
        with serving(root, env, workers=2) as url:
            texts: dict[str, str] = {}
            deadline = time.monotonic() + 60
            while len(texts) < 2 and time.monotonic() < deadline:
                response = httpx.get(f"{url}/metrics", timeout=10)
                texts.setdefault(response.headers[WORKER_HEADER], response.text)
            assert len(texts) == 2, "only one worker answered /metrics"
            a, b = (watched_gauges(t) for t in texts.values())
        assert a == b
        summary = json.loads((data_dir / SERIES.layout.monitoring_summary).read_text())
        model_loss = a["forecast_loss_qlike{forecaster=model,interval=1h}"]
        assert math.isclose(model_loss, summary["rolling_qlike"], rel_tol=1e-9)
        assert a["monitoring_events{event=promoted,interval=1h}"] == len(promoted)
        assert a["monitoring_events{event=retrain_started,interval=1h}"] == kinds.count(
            "retrain_started"
        )
        assert a["monitoring_last_bar_timestamp_seconds{interval=1h}"] == pytest.approx(
            pd.Timestamp(bars["timestamp"].iloc[-1]).timestamp()
        )
        assert "out_of_distribution_ratio{interval=1h}" in a
        # the worker's OOD line, which VolcastOodRatioHigh compares the ratio with
        line = a["out_of_distribution_threshold{interval=1h}"]
        assert line == pytest.approx(summary["ood_threshold"])
        assert line >= 0.15
