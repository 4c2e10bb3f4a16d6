"""The registered models of the other targets (SPEC 20): one per target and series.

``volcast-<slug>-<interval>-direction`` and ``...-return`` beside the variance model
``volcast-<slug>-<interval>`` (whose name does not change), each with its own experiment
and the aliases ``challenger`` and ``champion``. The model is logged as a
:class:`TargetPyfunc`: its ``predict`` answers ``probability_up`` (direction) or
``forecast_return`` (return) per feature row, so ``mlflow models serve`` can serve it too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.entities import Metric, RunTag
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from volcast.errors import ModelError, NotFoundError, RegistryError
from volcast.registry.pyfunc import from_signature_frame, to_signature_frame
from volcast.registry.tracking import (
    CHALLENGER,
    CHAMPION,
    MODEL_ARTIFACT,
    RunInfo,
    _ensure_experiment,
    _flatten,
    _pip_requirements,
    client,
    configure,
    git_commit,
    mlflow_errors,
    model_name,
)

OUTPUT_COLUMN = {"direction": "probability_up", "return": "forecast_return"}


def target_model_name(symbol: str, interval: str, kind: str) -> str:
    """``volcast-<slug>-<interval>`` for variance, ``...-<kind>`` for the other targets."""
    base = model_name(symbol, interval)
    return base if kind == "variance" else f"{base}-{kind}"


class TargetPyfunc(PythonModel):
    """A fitted return/direction model with its feature config (``kind``, ``feature_names``)."""

    def __init__(self, model: Any, *, feature_config: dict[str, Any]) -> None:
        self.model = model
        self.feature_config = feature_config

    @property
    def kind(self) -> str:
        return str(self.feature_config["kind"])

    @property
    def feature_names(self) -> list[str]:
        return [str(name) for name in self.feature_config["feature_names"]]

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ModelError(f"input lacks {len(missing)} feature column(s): {missing[:10]}")
        X = from_signature_frame(frame[self.feature_names])
        values = np.asarray(self.model.predict(X), dtype="float64").reshape(-1)
        return pd.DataFrame({OUTPUT_COLUMN[self.kind]: values}, index=X.index)


@dataclass(frozen=True)
class LoadedTargetModel:
    """A registered return/direction model version, loaded."""

    name: str
    kind: str
    version: int
    alias: str | None
    run_id: str
    feature_config: dict[str, Any]
    model: Any

    @property
    def feature_names(self) -> list[str]:
        return [str(name) for name in self.feature_config["feature_names"]]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The fitted estimator's forecasts for the feature rows of ``X`` (float64)."""
        out: np.ndarray = np.asarray(self.model.predict(X[self.feature_names]), dtype="float64")
        return out


def log_target_run(
    *,
    symbol: str,
    interval: str,
    kind: str,
    source: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    model: Any,
    feature_config: Mapping[str, Any],
    input_example: pd.DataFrame,
    artifacts: Mapping[str, Path],
    tags: Mapping[str, str],
    dataset_hash: str,
    tracking_uri: str | None = None,
) -> RunInfo:
    """Log one training run of target ``kind``, register it and point ``challenger`` at it."""
    name = target_model_name(symbol, interval, kind)
    config = {**dict(feature_config), "kind": kind, "symbol": symbol, "interval": interval}
    wrapper = TargetPyfunc(model, feature_config=config)
    example = to_signature_frame(input_example[wrapper.feature_names].dropna().tail(5))
    signature = infer_signature(example, wrapper.predict(None, example))
    commit = git_commit()
    run_tags = {
        **tags,
        "symbol": symbol,
        "interval": interval,
        "target": kind,
        "source": source,
        "dataset_hash": dataset_hash,
        "git_commit": commit or "unknown",
    }
    uri = configure(tracking_uri)
    mlflow_client = client(uri)
    with mlflow_errors("logging the training run", symbol=symbol, interval=interval, model=name):
        experiment_id = _ensure_experiment(mlflow_client, name, uri)
        with mlflow.start_run(experiment_id=experiment_id, tags=run_tags) as run:
            mlflow.log_params(_flatten(params))
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
            for key, path in artifacts.items():
                mlflow.log_artifact(str(path), artifact_path=key)
            mlflow.log_dict(config, "model_config/feature_config.json")
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=wrapper,
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
                metadata={"symbol": symbol, "interval": interval, "target": kind},
            )
        registered = mlflow.register_model(info.model_uri, name, tags=run_tags)
        version = int(registered.version)
        mlflow_client.set_registered_model_alias(name, CHALLENGER, str(version))
    return RunInfo(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        experiment_name=name,
        model_name=name,
        version=version,
        model_uri=f"models:/{name}/{version}",
        artifact_uri=str(run.info.artifact_uri),
    )


def target_alias(
    symbol: str, interval: str, kind: str, alias: str, *, tracking_uri: str | None = None
) -> tuple[int, dict[str, str]] | None:
    """The version ``alias`` points at and its tags; None when unset."""
    name = target_model_name(symbol, interval, kind)
    try:
        with mlflow_errors(f"resolving {name}@{alias}", symbol=symbol, interval=interval):
            mv = client(tracking_uri).get_model_version_by_alias(name, alias)
    except NotFoundError:
        return None
    return int(mv.version), {str(k): str(v) for k, v in (mv.tags or {}).items()}


def load_target_model(
    symbol: str,
    interval: str,
    kind: str,
    alias: str = CHAMPION,
    *,
    tracking_uri: str | None = None,
) -> LoadedTargetModel:
    """Load ``models:/volcast-<slug>-<interval>-<kind>@<alias>``."""
    name = target_model_name(symbol, interval, kind)
    context = {"symbol": symbol, "interval": interval, "model": name, "alias": alias}
    configure(tracking_uri)
    with mlflow_errors(f"loading {name}", **context):
        mv = client(tracking_uri).get_model_version_by_alias(name, alias)
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    wrapper = pyfunc.unwrap_python_model()
    if not isinstance(wrapper, TargetPyfunc):
        raise RegistryError(f"{name}@{alias} is not a volcast {kind} model", **context)
    return LoadedTargetModel(
        name=name,
        kind=kind,
        version=int(mv.version),
        alias=alias,
        run_id=str(mv.run_id),
        feature_config=dict(wrapper.feature_config),
        model=wrapper.model,
    )


def record_target_promotion(
    *,
    symbol: str,
    interval: str,
    kind: str,
    version: int,
    promoted: bool,
    reason: str,
    run_id: str,
    metrics: Mapping[str, float],
    report: Path | None = None,
    tracking_uri: str | None = None,
) -> None:
    """Move ``@champion`` to ``version`` when promoted; tag and log the decision on its run."""
    name = target_model_name(symbol, interval, kind)
    mlflow_client = client(tracking_uri)
    with mlflow_errors("recording the promotion decision", symbol=symbol, model=name):
        if promoted:
            mlflow_client.set_registered_model_alias(name, CHAMPION, str(version))
        label = "promoted" if promoted else "rejected"
        tags = {"promotion_decision": label, "promotion_reason": reason}
        now = int(time.time() * 1000)
        mlflow_client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if np.isfinite(v)],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for key, value in tags.items():
            mlflow_client.set_model_version_tag(name, str(version), key, value)
        if report is not None:
            mlflow_client.log_artifact(run_id, str(report), artifact_path="promotion")
