"""Tracking, registry aliases, loading and promotion against a real MLflow server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from tests.helpers import REPO_ROOT
from tests.unit.registry.toy import ScaledSquareModel, qlike, toy_dataset
from volcast.errors import NotFoundError, RegistryError
from volcast.evaluation.plots import forecast_plot, importance_plot
from volcast.monitoring.reference import reference_statistics
from volcast.pipeline.promotion import compare_and_promote
from volcast.registry import (
    CHALLENGER,
    CHAMPION,
    LoadedModel,
    RunInfo,
    alias_tags,
    load_model,
    log_training_run,
    model_artifacts_dir,
    model_name,
    resolve_alias,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL = "1h"
X_TRAIN, Y_TRAIN = toy_dataset(400, seed=1)
X_WINDOW, Y_WINDOW = toy_dataset(300, seed=2)
"""The recent out-of-sample window challenger, champion and baselines are all scored on."""


def unique_symbol() -> str:
    return f"T{uuid.uuid4().hex[:8].upper()}/USD"


def evaluate(model: LoadedModel) -> dict[str, float]:
    forecast = model.predict(X_WINDOW)["variance"].to_numpy()
    return {
        "qlike": qlike(Y_WINDOW, forecast),
        "rmse_vol": float(np.sqrt(np.mean((np.sqrt(Y_WINDOW) - np.sqrt(forecast)) ** 2))),
    }


def window_qlike(scale: float) -> float:
    return qlike(Y_WINDOW, ScaledSquareModel(scale=scale).fit(X_TRAIN, Y_TRAIN).predict(X_WINDOW))


# A constant forecast at the training mean: a weak but honest baseline.
WEAK_BASELINES = {"mean": qlike(Y_WINDOW, np.full(len(Y_WINDOW), Y_TRAIN.mean()))}


@dataclass
class Logged:
    info: RunInfo
    model: ScaledSquareModel
    symbol: str


@pytest.fixture
def log_run(tmp_path: Path) -> Callable[..., Logged]:
    """Fit a toy model with ``scale`` and log it like the training stage does."""

    def _log(symbol: str, *, scale: float = 1.0) -> Logged:
        model = ScaledSquareModel(scale=scale).fit(X_TRAIN, Y_TRAIN)
        out = tmp_path / f"artefacts-{uuid.uuid4().hex[:6]}"
        predictions = pd.DataFrame(
            {
                "timestamp": pd.date_range("2024-01-01", periods=len(X_WINDOW), freq="h", tz="UTC"),
                "forecast_variance": model.predict(X_WINDOW),
                "realized_variance": Y_WINDOW.to_numpy(),
                "model": "toy",
            }
        )
        out.mkdir()
        predictions.to_csv(out / "oos_predictions.csv", index=False)
        (out / "quality.json").write_text(json.dumps({"passed": True}))
        importance = pd.Series({"vol_proxy_1": 0.6, "vol_proxy_2": 0.4})
        (out / "forecast_vs_realized.png").write_bytes(forecast_plot(predictions))
        (out / "feature_importance.png").write_bytes(importance_plot(importance))
        info = log_training_run(
            symbol=symbol,
            interval=INTERVAL,
            source="sample",
            params={"train": {"seed": 42, "candidates": ["toy"]}, "scale": scale},
            metrics={"qlike": window_qlike(scale), "rmse_vol": 0.001},
            model=model,
            feature_config={"feature_names": list(X_TRAIN.columns), "target": {"horizon": 1}},
            reference_stats=reference_statistics(X_TRAIN),
            input_example=X_TRAIN,
            artifacts={
                "plots": out / "forecast_vs_realized.png",
                "importance": out / "feature_importance.png",
                "data": out / "oos_predictions.csv",
                "reports": out / "quality.json",
            },
            tags={"candidate": "toy", "train_fingerprint": f"fp-{scale}"},
            dataset_hash="sha256:abc123",
        )
        return Logged(info=info, model=model, symbol=symbol)

    return _log


def _promote(symbol: str, tmp_path: Path, *, margin: float = 0.0, baselines=WEAK_BASELINES):
    return compare_and_promote(
        symbol=symbol,
        interval=INTERVAL,
        evaluate=evaluate,
        baselines=baselines,
        margin=margin,
        report_dir=tmp_path / "reports",
        window=f"{len(X_WINDOW)} toy bars",
    )


@pytest.mark.usefixtures("tracking_server")
def test_run_records_params_metrics_tags_and_artefacts(log_run: Callable[..., Logged]) -> None:
    symbol = unique_symbol()
    logged = log_run(symbol)
    run = MlflowClient().get_run(logged.info.run_id)
    assert MlflowClient().get_experiment(run.info.experiment_id).name == model_name(symbol, "1h")
    assert run.data.params["train.seed"] == "42"
    assert run.data.params["train.candidates"] == '["toy"]'
    assert run.data.metrics["qlike"] == pytest.approx(window_qlike(1.0))
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert run.data.tags["git_commit"] == head
    assert run.data.tags["dataset_hash"] == "sha256:abc123"
    assert run.data.tags["source"] == "sample"
    assert run.data.tags["symbol"] == symbol
    assert run.data.tags["candidate"] == "toy"
    listed = {
        a.path
        for folder in ("plots", "importance", "data", "reports", "model_config")
        for a in MlflowClient().list_artifacts(logged.info.run_id, folder)
    }
    assert listed == {
        "plots/forecast_vs_realized.png",
        "importance/feature_importance.png",
        "data/oos_predictions.csv",
        "reports/quality.json",
        "model_config/feature_config.json",
        "model_config/reference_stats.json",
    }


@pytest.mark.usefixtures("tracking_server")
def test_model_is_registered_with_the_challenger_alias(log_run: Callable[..., Logged]) -> None:
    symbol = unique_symbol()
    first = log_run(symbol)
    second = log_run(symbol, scale=2.0)
    name = model_name(symbol, INTERVAL)
    assert (first.info.model_name, first.info.version, second.info.version) == (name, 1, 2)
    version = MlflowClient().get_model_version_by_alias(name, CHALLENGER)
    assert int(version.version) == second.info.version
    assert version.run_id == second.info.run_id
    assert version.tags["dataset_hash"] == "sha256:abc123"
    assert resolve_alias(symbol, INTERVAL, CHAMPION) is None
    found = alias_tags(symbol, INTERVAL, CHALLENGER)
    assert found is not None
    assert found[0] == second.info.version
    assert found[1]["train_fingerprint"] == "fp-2.0"
    assert alias_tags(symbol, INTERVAL, CHAMPION) is None


@pytest.mark.usefixtures("tracking_server")
def test_feature_config_without_feature_names_is_refused() -> None:
    with pytest.raises(RegistryError, match="feature_names"):
        log_training_run(
            symbol=unique_symbol(),
            interval=INTERVAL,
            source="sample",
            params={},
            metrics={},
            model=ScaledSquareModel().fit(X_TRAIN, Y_TRAIN),
            feature_config={"target": {"horizon": 1}},
            reference_stats={},
            input_example=X_TRAIN,
            artifacts={},
            tags={},
            dataset_hash="sha256:0",
        )


@pytest.mark.usefixtures("tracking_server")
def test_model_directory_carries_serving_input_example(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    log_run(symbol)
    loaded = load_model(symbol, INTERVAL, alias=CHALLENGER)
    model_dir = model_artifacts_dir(loaded, dst=tmp_path / "model")
    example = json.loads((model_dir / "serving_input_example.json").read_text())
    assert example["dataframe_split"]["columns"] == list(X_TRAIN.columns)
    assert len(example["dataframe_split"]["data"]) > 0
    mlmodel = (model_dir / "MLmodel").read_text()
    assert "signature:" in mlmodel
    assert "vol_proxy_1" in mlmodel


@pytest.mark.usefixtures("tracking_server")
def test_champion_loads_back_and_predicts_the_same(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    logged = log_run(symbol)
    _promote(symbol, tmp_path)
    loaded = load_model(symbol, INTERVAL)
    assert (loaded.alias, loaded.version, loaded.run_id) == (
        CHAMPION,
        logged.info.version,
        logged.info.run_id,
    )
    expected = logged.model.predict(X_WINDOW)
    np.testing.assert_allclose(loaded.predict(X_WINDOW)["variance"], expected)
    direct = mlflow.pyfunc.load_model(f"models:/{model_name(symbol, INTERVAL)}@champion")
    np.testing.assert_allclose(direct.predict(X_WINDOW)["variance"], expected)
    assert loaded.feature_config["feature_names"] == list(X_TRAIN.columns)
    assert loaded.feature_config["symbol"] == symbol
    assert loaded.reference_stats == reference_statistics(X_TRAIN).to_dict()


@pytest.mark.usefixtures("tracking_server")
def test_first_model_is_crowned_and_report_written(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    logged = log_run(symbol)
    decision = _promote(symbol, tmp_path)
    assert decision.promoted
    assert decision.previous_champion_version is None
    assert resolve_alias(symbol, INTERVAL, CHAMPION) == logged.info.version
    assert decision.challenger_qlike == pytest.approx(window_qlike(1.0))
    report = decision.report_path.read_text()
    assert decision.report_path.parent == tmp_path / "reports"
    assert f"| challenger | {model_name(symbol, INTERVAL)} v1 |" in report
    assert "| baseline | mean |" in report
    assert "PROMOTED" in report
    run = MlflowClient().get_run(logged.info.run_id)
    assert run.data.tags["promotion_decision"] == "promoted"
    assert run.data.metrics["promotion_decision"] == 1.0
    names = {a.path for a in MlflowClient().list_artifacts(logged.info.run_id, "promotion")}
    assert f"promotion/{decision.report_path.name}" in names


@pytest.mark.usefixtures("tracking_server")
def test_better_challenger_takes_the_champion_alias(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    log_run(symbol, scale=2.0)
    _promote(symbol, tmp_path)
    better = log_run(symbol, scale=1.0)
    decision = _promote(symbol, tmp_path)
    assert decision.promoted
    assert decision.previous_champion_version == 1
    assert decision.champion_qlike == pytest.approx(window_qlike(2.0))
    assert resolve_alias(symbol, INTERVAL, CHAMPION) == better.info.version
    report = decision.report_path.read_text()
    assert f"| champion | {model_name(symbol, INTERVAL)} v1 |" in report


@pytest.mark.usefixtures("tracking_server")
def test_worse_challenger_leaves_the_champion_and_records_why(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    champion = log_run(symbol, scale=1.0)
    _promote(symbol, tmp_path)
    worse = log_run(symbol, scale=2.0)
    decision = _promote(symbol, tmp_path)
    assert not decision.promoted
    assert resolve_alias(symbol, INTERVAL, CHAMPION) == champion.info.version
    assert resolve_alias(symbol, INTERVAL, CHALLENGER) == worse.info.version
    run = MlflowClient().get_run(worse.info.run_id)
    assert run.data.tags["promotion_decision"] == "rejected"
    assert run.data.tags["promotion_reason"] == decision.reason
    assert "does not beat champion" in decision.reason
    assert run.data.metrics["promotion_decision"] == 0.0
    assert "NOT PROMOTED" in decision.report_path.read_text()


@pytest.mark.usefixtures("tracking_server")
def test_margin_is_honoured(log_run: Callable[..., Logged], tmp_path: Path) -> None:
    symbol = unique_symbol()
    log_run(symbol, scale=1.3)
    _promote(symbol, tmp_path)
    challenger = log_run(symbol, scale=1.1)
    improvement = 1.0 - window_qlike(1.1) / window_qlike(1.3)
    assert improvement > 0

    too_demanding = _promote(symbol, tmp_path, margin=improvement * 2)
    assert not too_demanding.promoted
    assert resolve_alias(symbol, INTERVAL, CHAMPION) == 1

    reachable = _promote(symbol, tmp_path, margin=improvement / 2)
    assert reachable.promoted
    assert resolve_alias(symbol, INTERVAL, CHAMPION) == challenger.info.version


@pytest.mark.usefixtures("tracking_server")
def test_challenger_worse_than_best_baseline_is_rejected(
    log_run: Callable[..., Logged], tmp_path: Path
) -> None:
    symbol = unique_symbol()
    log_run(symbol, scale=3.0)
    baselines = {**WEAK_BASELINES, "har": {"qlike": window_qlike(1.0), "rmse_vol": 0.0}}
    decision = _promote(symbol, tmp_path, baselines=baselines)
    assert not decision.promoted
    assert decision.best_baseline == "har"
    assert "har" in decision.reason
    assert resolve_alias(symbol, INTERVAL, CHAMPION) is None
    assert "| baseline | har |" in decision.report_path.read_text()


@pytest.mark.usefixtures("tracking_server")
def test_missing_models_are_not_found(tmp_path: Path) -> None:
    symbol = unique_symbol()
    with pytest.raises(NotFoundError):
        load_model(symbol, INTERVAL)
    with pytest.raises(NotFoundError, match="challenger"):
        _promote(symbol, tmp_path)


@pytest.mark.slow
def test_default_local_store_under_the_data_dir(
    log_run: Callable[..., Logged], data_dir: Path, tmp_path: Path
) -> None:
    symbol = unique_symbol()
    logged = log_run(symbol)
    assert (data_dir / "mlflow.db").exists()
    decision = _promote(symbol, tmp_path)
    assert decision.promoted
    loaded = load_model(symbol, INTERVAL)
    np.testing.assert_allclose(loaded.predict(X_WINDOW)["variance"], logged.model.predict(X_WINDOW))
    # Artefacts live beside the database, not in the working directory.
    assert list((data_dir / "mlartifacts").rglob("serving_input_example.json"))
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.usefixtures("tracking_server")
def test_mlflow_models_predict_serves_the_input_example(tmp_path: Path) -> None:
    """The logged model works with MLflow's own scoring CLI (what ``mlflow models serve`` runs)."""
    symbol = unique_symbol()
    model = LinearRegression().fit(X_TRAIN, Y_TRAIN)
    info = log_training_run(
        symbol=symbol,
        interval=INTERVAL,
        source="sample",
        params={},
        metrics={},
        model=model,
        feature_config={"feature_names": list(X_TRAIN.columns)},
        reference_stats=reference_statistics(X_TRAIN),
        input_example=X_TRAIN,
        artifacts={},
        tags={},
        dataset_hash="sha256:def456",
    )
    model_dir = model_artifacts_dir(
        load_model(symbol, INTERVAL, alias=CHALLENGER), dst=tmp_path / "model"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "predict",
            "--model-uri",
            str(model_dir),
            "--input-path",
            str(model_dir / "serving_input_example.json"),
            "--content-type",
            "json",
            "--env-manager",
            "local",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    predictions = json.loads(result.stdout.strip().splitlines()[-1])["predictions"]
    rows = json.loads((model_dir / "serving_input_example.json").read_text())["dataframe_split"]
    example = pd.DataFrame(rows["data"], columns=rows["columns"])
    assert info.version == 1
    assert [p["variance"] for p in predictions] == pytest.approx(list(model.predict(example)))
    assert set(predictions[0]) == {"variance", "volatility", "annualized_volatility"}
