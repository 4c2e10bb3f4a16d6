"""Training, backtest and promotion through the CLI, on the local store and a real MLflow server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from tests.helpers import REPO_ROOT
from volcast.cli import REJECTED_EXIT_CODE, app
from volcast.config import get_settings, load_params
from volcast.pipeline import training
from volcast.storage import storage_from_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()
MODEL = "volcast-eurusd-1h"


def _config(tmp_path: Path, **train: Any) -> Path:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["sample"]["n_bars"] = 2400
    params["profile"]["enabled"] = False
    params["train"].update({"min_train_bars": 800, "refit_every": 400, **train})
    params["train"]["lightgbm"]["n_estimators"] = 60
    params["promotion"]["window_bars"] = 300
    path = tmp_path / f"params_{len(list(tmp_path.glob('params_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _client() -> MlflowClient:
    uri = get_settings().tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _alias(alias: str) -> int:
    return int(_client().get_model_version_by_alias(MODEL, alias).version)


def test_pipeline_on_local_store_registers_and_crowns_the_first_model(
    tmp_path: Path, data_dir: Path
) -> None:
    code, out = _invoke("pipeline", "--config", str(_config(tmp_path)))
    assert code == 0, out
    assert "promoted" in out
    assert get_settings().tracking_uri().startswith("sqlite:///")
    assert _alias("champion") == 1
    assert _alias("challenger") == 1

    version = _client().get_model_version(MODEL, "1")
    run = _client().get_run(version.run_id)
    meta = pd.read_json(data_dir / "datasets" / "eurusd" / "1h" / "meta.json", typ="series")
    assert run.data.tags["dataset_hash"] == meta["content_hash"]
    assert run.data.tags["source"] == "sample"
    assert run.data.tags["symbol"] == "EUR/USD"
    assert run.data.tags["git_commit"]
    assert run.data.tags["promotion_decision"] == "promoted"
    for metric in ("qlike", "rmse_vol", "mae_vol", "r2_logvar", "mape", "directional_accuracy"):
        assert metric in run.data.metrics
    assert "har.qlike" in run.data.metrics
    assert run.data.metrics["qlike"] <= min(
        run.data.metrics[f"{b}.qlike"] for b in ("persistence", "ewma", "garch", "har")
    )
    artifacts = {a.path for a in _client().list_artifacts(run.info.run_id)}
    assert {"backtest", "plots", "reports"} <= artifacts
    report = data_dir / "reports" / "promotion" / "eurusd_1h" / "comparison_eurusd_1h.md"
    text = report.read_text()
    assert "PROMOTED" in text
    assert "| baseline | har |" in text

    # new bars after `train`: promotion refuses to compare on bars the challenger never saw
    more = yaml.safe_load(_config(tmp_path).read_text())
    more["sample"]["n_bars"] = 2500
    grown = tmp_path / "grown.yaml"
    grown.write_text(yaml.safe_dump(more))
    for stage in ("ingest", "validate", "features"):
        assert _invoke(stage, "--config", str(grown))[0] == 0
    code, out = _invoke("promote", "--config", str(grown))
    assert code == 10  # ConflictError: the dataset changed under the challenger
    assert "train again" in out
    assert _alias("champion") == 1


def test_better_challenger_moves_the_alias_and_worse_one_does_not(
    tmp_path: Path, tracking_server: str
) -> None:
    # v1: persistence only -> crowned (it is its own best baseline)
    code, out = _invoke("pipeline", "--config", str(_config(tmp_path, candidates=["persistence"])))
    assert code == 0, out
    assert _alias("champion") == 1

    # v2: every candidate -> much better than persistence on the same window -> promoted
    full = _config(tmp_path)
    assert _invoke("train", "--config", str(full))[0] == 0
    code, out = _invoke("promote", "--config", str(full))
    assert code == 0, out
    assert _alias("champion") == 2

    # v3: persistence again -> worse than the champion -> rejected, alias unchanged, exit 9
    worse = _config(tmp_path, candidates=["persistence"])
    assert _invoke("train", "--config", str(worse))[0] == 0
    code, out = _invoke("promote", "--config", str(worse))
    assert code == REJECTED_EXIT_CODE, out
    assert "rejected" in out
    assert _alias("champion") == 2
    assert _alias("challenger") == 3
    run = _client().get_run(_client().get_model_version(MODEL, "3").run_id)
    assert run.data.tags["promotion_decision"] == "rejected"
    assert "champion" in run.data.tags["promotion_reason"]


def test_backtest_output_follows_the_csv_contract(tmp_path: Path) -> None:
    config = _config(tmp_path, candidates=["persistence", "ewma", "har"])
    output = tmp_path / "out" / "backtest.csv"
    code, out = _invoke(
        "backtest", "--source", "sample", "--config", str(config), "--output", str(output)
    )
    assert code == 0, out
    for name in ("persistence", "ewma", "har", "QLIKE"):
        assert name in out
    columns = ["timestamp", "forecast_variance", "realized_variance", "model"]
    # default: one row per out-of-sample bar, the selected model's (named in the output)
    frame = pd.read_csv(output)
    assert list(frame.columns) == columns
    assert frame["model"].nunique() == 1
    selected = str(frame["model"].iloc[0])
    assert f"selected: {selected}" in out
    assert frame["timestamp"].is_unique
    assert pd.to_datetime(frame["timestamp"], utc=True).is_monotonic_increasing
    assert frame["forecast_variance"].gt(0).all()
    # --all-models: every candidate on the same bars, the selected model's rows unchanged
    every = tmp_path / "every.csv"
    code, out = _invoke("backtest", "--config", str(config), "--output", str(every), "--all-models")
    assert code == 0, out
    full = pd.read_csv(every)
    assert list(full.columns) == columns
    assert set(full["model"]) == {"persistence", "ewma", "har"}
    stamps = {m: tuple(g["timestamp"]) for m, g in full.groupby("model")}
    assert len(set(stamps.values())) == 1  # identical timestamps for every candidate
    assert stamps[selected] == tuple(frame["timestamp"])
    pd.testing.assert_frame_equal(
        full[full["model"] == selected].reset_index(drop=True), frame.reset_index(drop=True)
    )
    # same data, params and seed: the same forecasts
    again = tmp_path / "again.csv"
    assert _invoke("backtest", "--config", str(config), "--output", str(again))[0] == 0
    pd.testing.assert_frame_equal(frame, pd.read_csv(again))
    # --all-models without a file to write is a clear usage error
    code, out = _invoke("backtest", "--config", str(config), "--all-models")
    assert code != 0
    assert "--all-models needs --output" in out


def _versions() -> list[int]:
    return sorted(int(v.version) for v in _client().search_model_versions(f"name='{MODEL}'"))


def test_train_is_skipped_when_data_params_and_code_are_unchanged(
    tmp_path: Path, data_dir: Path
) -> None:
    config = _config(tmp_path, candidates=["persistence", "ewma", "har"])
    code, out = _invoke("pipeline", "--config", str(config))
    assert code == 0, out
    assert _versions() == [1]
    run = _client().get_run(_client().get_model_version(MODEL, "1").run_id)
    fingerprint = run.data.tags["train_fingerprint"]
    assert _client().get_model_version(MODEL, "1").tags["train_fingerprint"] == fingerprint

    # the same data, parameters and code: nothing is trained or registered
    code, out = _invoke("train", "--config", str(config))
    assert code == 0, out
    assert "skipped" in out
    assert _versions() == [1]
    params = load_params(config)
    uri = get_settings().tracking_uri()
    again = training.train(
        storage=storage_from_settings(),
        symbol="EUR/USD",
        interval="1h",
        params=params,
        tracking_uri=uri,
    )
    assert again.skipped
    assert again.backtest is None
    assert (again.version, again.fingerprint) == (1, fingerprint)
    assert again.skip_reason is not None
    assert "unchanged since v1" in again.skip_reason
    # promote still works on the kept backtest: v1 already is the champion
    code, out = _invoke("promote", "--config", str(config))
    assert code == REJECTED_EXIT_CODE, out
    assert "already the champion" in out

    # a training parameter changed: train runs and registers v2
    changed = _config(tmp_path, candidates=["persistence", "ewma", "har"], refit_every=300)
    retrained = training.train(
        storage=storage_from_settings(),
        symbol="EUR/USD",
        interval="1h",
        params=load_params(changed),
        tracking_uri=uri,
    )
    assert not retrained.skipped
    assert retrained.backtest is not None
    assert retrained.fingerprint != fingerprint
    assert _versions() == [1, 2]

    # unchanged again, but forced: v3
    forced = training.train(
        storage=storage_from_settings(),
        symbol="EUR/USD",
        interval="1h",
        params=load_params(changed),
        tracking_uri=uri,
        force=True,
    )
    assert not forced.skipped
    assert forced.fingerprint == retrained.fingerprint
    assert _versions() == [1, 2, 3]
    assert _alias("challenger") == 3


def test_serving_floors_with_the_training_floor(tmp_path: Path, data_dir: Path) -> None:
    """The data-driven floor set when the dataset was built is the one the served model uses."""
    import math

    import numpy as np

    from volcast.evaluation.latest import score_latest
    from volcast.pipeline.stages import read_dataset, read_dataset_spec
    from volcast.registry.served import RegistryLoader

    config = _config(tmp_path, candidates=["persistence", "har"])
    code, out = _invoke("pipeline", "--config", str(config))
    assert code == 0, out
    storage = storage_from_settings()
    spec = read_dataset_spec(storage, symbol="EUR/USD", interval="1h")
    assert spec.target is not None
    assert spec.target.floor_source == "fixed"
    floor = spec.target.floor
    assert floor > 1e-9  # data-driven, not the old 1e-10
    run = _client().get_run(_client().get_model_version_by_alias(MODEL, "champion").run_id)
    assert float(run.data.params["target.floor"]) == floor
    # a retrain with a different floor quantile leaves the served model's floor alone
    params = load_params(_config(tmp_path, candidates=["persistence", "har"]))
    params = params.model_copy(
        update={"target": params.target.model_copy(update={"floor_quantile": 0.2})}
    )
    served = RegistryLoader(alias="champion", params=params).load("EUR/USD", "1h")
    assert served.builder.target.floor == floor
    # a flat last bar is served at log(floor), exactly as training saw flat bars
    dataset = read_dataset(storage, symbol="EUR/USD", interval="1h").frame
    bars = dataset[["timestamp"]].copy()
    closes = np.exp(np.cumsum(np.full(len(bars), 1e-4)))
    bars["open"], bars["close"] = closes, closes * 1.0002
    bars["high"], bars["low"] = closes * 1.0005, closes * 0.9997
    bars.loc[bars.index[-1], ["open", "high", "low"]] = bars["close"].iloc[-1]
    forecast = score_latest(served, bars, rows=5)
    assert forecast.features["log_rv"] == math.log(floor)
    assert forecast.variance >= floor
