"""The direction and return targets end to end: CLI backtest contract, pipeline, serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from volcast.cli import app
from volcast.config import get_settings, load_params
from volcast.pipeline.targets import train_target
from volcast.serving.app import create_app, default_service
from volcast.serving.settings import ServingSettings
from volcast.storage import storage_from_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()
PARAMS = """\
sample:
  n_bars: 1400
profile:
  enabled: false
train:
  min_train_bars: 400
  refit_every: 400
promotion:
  window_bars: 200
"""


def _version_tags(name: str, version: int, uri: str) -> dict[str, str]:
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, str(version))
    return dict(found.tags)


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_direction_pipeline_serves_probabilities_and_backtests_write_the_contract(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "params.yaml").write_text(PARAMS)
    out = _invoke("pipeline", "--target", "direction")
    assert "volcast-eurusd-1h-direction v1" in out
    assert "promoted" in out
    assert "buy_and_hold" in out  # the trading backtest is printed
    _invoke("report", "--output", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Paper trading: direction forecasts" in html
    assert "buy_and_hold" in html

    # the CLI output contract of both targets, from the stored bars
    for kind, columns in (
        ("direction", ["timestamp", "probability_up", "outcome", "model"]),
        ("return", ["timestamp", "forecast_return", "realized_return", "model"]),
    ):
        csv = tmp_path / f"{kind}.csv"
        printed = _invoke("backtest", "--target", kind, "--output", str(csv))
        frame = pd.read_csv(csv)
        assert list(frame.columns) == columns
        assert frame["model"].nunique() == 1
        assert frame["model"].iloc[0] in printed
        assert frame["timestamp"].is_unique
        assert len(frame) > 500
        if kind == "direction":
            assert frame["probability_up"].between(0, 1).all()
            assert set(frame["outcome"]) <= {0, 1}
        else:
            assert np.isfinite(frame["realized_return"]).all()
    bad = runner.invoke(app, ["backtest", "--target", "price", "--output", str(tmp_path / "x.csv")])
    assert bad.exit_code != 0
    assert "--target 'price'" in bad.output
    assert not (tmp_path / "x.csv").exists()

    # serve the direction champion the pipeline promoted
    storage_root = data_dir
    from volcast.storage import Storage

    service_app = create_app(
        service_factory=lambda: default_service(
            settings=ServingSettings(), storage=Storage(storage_root)
        ),
        poll=False,
    )
    with TestClient(service_app, raise_server_exceptions=False) as client:
        answer = client.post("/predict", json={"symbol": "EUR/USD", "target": "direction"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert 0.0 <= body["probability_up"] <= 1.0
        assert body["model"]["name"] == "volcast-eurusd-1h-direction"
        assert body["model"]["alias"] == "champion"
        assert body["target_time"] > body["as_of"]
        bad_target = client.post("/predict", json={"symbol": "EUR/USD", "target": "up"})
        assert bad_target.status_code == 422
        assert "target" in bad_target.text
        missing = client.post("/predict", json={"symbol": "EUR/USD", "target": "return"})
        assert missing.status_code == 503
        assert "return" in missing.json()["detail"]
        with_features = client.post(
            "/predict", json={"symbol": "EUR/USD", "target": "direction", "features": {"a": 1.0}}
        )
        assert with_features.status_code == 409  # by symbol only, like as_of for variance

    # the return target through train and promote, served with its implied close
    _invoke("train", "--target", "return")
    assert "promoted" in _invoke("promote", "--target", "return")
    with TestClient(service_app, raise_server_exceptions=False) as client:
        answer = client.post("/predict", json={"symbol": "EUR/USD", "target": "return"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"]["name"] == "volcast-eurusd-1h-return"
        assert body["implied_close"] == pytest.approx(
            body["close"] * np.exp(body["forecast_return"]), rel=1e-12
        )
        variance = client.post("/predict", json={"symbol": "EUR/USD"})
        assert variance.status_code == 503  # no variance champion: the targets are separate

    # a second promotion: the champion itself is rejected; a retrained version is compared
    # with the champion's model on the same recent bars of the new walk-forward
    again = runner.invoke(app, ["promote", "--target", "direction"])
    assert again.exit_code == 9, again.output
    assert "already @champion" in again.output
    # nothing changed since v1: train is skipped (the fingerprint, as for variance) ...
    skipped = _invoke("train", "--target", "direction")
    assert "skipped" in skipped
    assert "unchanged since v1 (@challenger)" in skipped
    assert "v2" not in skipped
    # ... a parameter that shapes the run (trading costs: the run logs its paper trading)
    # changed: it runs, with another fingerprint, without --force
    changed = load_params(tmp_path / "params.yaml")
    changed = changed.model_copy(
        update={
            "target": changed.target.model_copy(update={"kind": "direction"}),
            "trading": changed.trading.model_copy(update={"cost_bps": 3.0}),
        }
    )
    uri = get_settings().tracking_uri()
    first_print = _version_tags("volcast-eurusd-1h-direction", 1, uri)["train_fingerprint"]
    retrained = train_target(
        storage=storage_from_settings(),
        symbol="EUR/USD",
        interval="1h",
        params=changed,
        tracking_uri=uri,
    )
    assert not retrained.skipped
    assert retrained.version == 2
    assert retrained.fingerprint not in (None, first_print)
    assert _version_tags("volcast-eurusd-1h-direction", 2, uri)["train_fingerprint"] == (
        retrained.fingerprint
    )
    # ... and --force retrains even when nothing changed
    assert "v3 (@challenger)" in _invoke("train", "--target", "direction", "--force")
    second = _invoke("promote", "--target", "direction")
    assert "volcast-eurusd-1h-direction v3: promoted" in second
    assert "champion v1" in second
