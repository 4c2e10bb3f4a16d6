"""The direction champion in the live loop: `volcast pipeline` with target.kind direction on a
real BTC slice, then `volcast stream --replay` of the next bars, then the API's /metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from tests.helpers import BTC_CSV, require_file
from volcast.cli import app
from volcast.pipeline.monitor_store import MonitorStore
from volcast.series import Series
from volcast.serving.app import create_app, default_service
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()
SERIES = Series("BTC/USD", "1h")
N_HISTORY, N_REPLAY, N_MORE = 1000, 40, 20
PARAMS = """\
profile:
  enabled: false
target:
  kind: direction
train:
  candidates: [persistence, ewma, har]
  min_train_bars: 400
  refit_every: 400
promotion:
  window_bars: 200
"""


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_stream_logs_realizes_and_exports_the_direction_champion(
    tmp_path: Path, data_dir: Path
) -> None:
    lines = require_file(BTC_CSV).read_text().splitlines(keepends=True)  # newest bar first
    head, rows = lines[:2], lines[2 : 2 + N_MORE + N_REPLAY + N_HISTORY]
    (tmp_path / "history.csv").write_text("".join(head + rows[N_MORE + N_REPLAY :]))
    (tmp_path / "full.csv").write_text("".join(head + rows[N_MORE:]))
    (tmp_path / "later.csv").write_text("".join(head + rows))  # N_MORE bars more
    (tmp_path / "params.yaml").write_text(PARAMS)
    series = ["--symbol", SERIES.symbol, "--interval", SERIES.interval]
    source = ["--source", "csv", "--path"]
    out = _invoke("pipeline", *source, str(tmp_path / "history.csv"), *series)
    assert "volcast-btcusd-1h-direction v1" in out
    assert "promoted" in out

    storage = Storage(data_dir)
    curated = storage.read_parquet(SERIES.layout.curated_bars)
    start = pd.Timestamp(curated["timestamp"].iloc[-1])
    printed = _invoke(
        "stream", "--replay", "--speed", "0", *source, str(tmp_path / "full.csv"), *series
    )
    assert f"{N_REPLAY + 1} bars processed" in printed  # the latest curated bar, then the new

    log = storage.read_parquet(SERIES.layout.monitoring_target_forecasts("direction"))
    bars = storage.read_parquet(SERIES.layout.curated_bars)
    expected = bars.loc[bars["timestamp"] >= start, "timestamp"]
    # the latest curated bar when the loop started, then every new bar, each exactly once
    assert list(log["timestamp"]) == list(expected)
    assert len(log) == N_REPLAY + 1
    assert list(log.columns) == [
        "timestamp",
        "probability_up",
        "outcome",
        "model_version",
        "baseline",
    ]
    assert log["probability_up"].between(0.0, 1.0).all()
    assert (log["model_version"] == 1).all()
    # every forecast but the last is realized: 1 when the next bar closed above this one
    close = bars.set_index("timestamp")["close"]
    nxt = close.shift(-1).reindex(log["timestamp"]).to_numpy()
    now = close.reindex(log["timestamp"]).to_numpy()
    assert np.isnan(log["outcome"].iloc[-1])
    np.testing.assert_array_equal(log["outcome"].iloc[:-1], (nxt > now)[:-1].astype(float))
    # the baseline: the share of up moves among every curated bar up to the forecast's bar
    ups = (close.diff() > 0).cumsum()
    moves = np.arange(len(close))
    rate = pd.Series(ups.to_numpy() / np.maximum(moves, 1), index=close.index)
    np.testing.assert_allclose(log["baseline"], rate.reindex(log["timestamp"]), rtol=1e-12)
    # no variance champion (the pipeline trained direction only): no variance log
    assert not storage.exists(SERIES.layout.monitoring_forecasts)
    assert not storage.exists(SERIES.layout.monitoring_target_forecasts("return"))

    # the rolling losses in the state, against the losses computed here from the log
    summary = MonitorStore(storage, SERIES).read_summary()
    assert summary is not None
    state = summary["targets"]["direction"]
    p, y, b = (log[c].iloc[:-1].to_numpy() for c in ("probability_up", "outcome", "baseline"))
    assert state["bars"] == N_REPLAY
    assert state["loss"]["brier"]["model"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-9)
    assert state["loss"]["brier"]["base_rate"] == pytest.approx(np.mean((b - y) ** 2), rel=1e-9)
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert state["loss"]["log_loss"]["model"] == pytest.approx(log_loss, rel=1e-9)

    # a second replay of the same file adds nothing: every bar was processed once
    again = _invoke(
        "stream", "--replay", "--speed", "0", *source, str(tmp_path / "full.csv"), *series
    )
    assert "0 bars processed" in again
    assert storage.read_parquet(SERIES.layout.monitoring_target_forecasts("direction")).equals(log)

    # the API exports the rolling losses with a target label
    service_app = create_app(
        service_factory=lambda: default_service(settings=ServingSettings(), storage=storage),
        poll=False,
    )
    with TestClient(service_app, raise_server_exceptions=False) as client:
        client.post("/admin/reload")  # not needed for the gauges: the start-up read sets them
        text = client.get("/metrics").text
    samples = {
        (s.labels.get("target"), s.labels.get("loss"), s.labels.get("forecaster")): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "forecast_loss_target"
        for s in family.samples
        if s.labels.get("symbol") == SERIES.symbol
    }
    assert samples[("direction", "brier", "model")] == pytest.approx(
        state["loss"]["brier"]["model"]
    )
    assert ("direction", "log_loss", "base_rate") in samples

    # a variance champion joins: the loop watches both, each log gets every new bar once
    _invoke("pipeline", "--target", "variance", *source, str(tmp_path / "history.csv"), *series)
    printed = _invoke(
        "stream", "--replay", "--speed", "0", *source, str(tmp_path / "later.csv"), *series
    )
    assert f"{N_MORE} bars processed" in printed
    direction = storage.read_parquet(SERIES.layout.monitoring_target_forecasts("direction"))
    variance = storage.read_parquet(SERIES.layout.monitoring_forecasts)
    assert len(direction) == N_REPLAY + 1 + N_MORE
    assert direction["timestamp"].is_unique
    assert direction["outcome"].iloc[:-1].notna().all()
    assert list(variance["timestamp"]) == list(direction["timestamp"].iloc[-N_MORE:])
    assert variance["realized_variance"].iloc[:-1].notna().all()
    assert (variance["model_version"] == 1).all()
    summary = MonitorStore(storage, SERIES).read_summary()
    assert summary is not None
    assert summary["targets"]["direction"]["bars"] == N_REPLAY + N_MORE
    assert summary["model_version"] == 1  # the variance monitor's part of the summary
