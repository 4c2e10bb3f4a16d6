"""MLflow tracking: log a training run and register it (loading lives in ``loading``).

This package is the only part of volcast that imports mlflow. The tracking URI comes from
``MLFLOW_TRACKING_URI`` (settings), else a SQLite store under the data directory; for such a
local store, experiments keep their artefacts in ``mlartifacts/`` beside the database rather
than in the working directory. Every MLflow failure surfaces as
:class:`~volcast.errors.RegistryError` (or :class:`~volcast.errors.NotFoundError` for a
missing model or alias) naming the model and the action.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from volcast.config import get_settings
from volcast.errors import ConfigError, NotFoundError, RegistryError, StorageError
from volcast.models.spec import ModelSpec
from volcast.registry.pyfunc import VarianceModel, VolcastPyfunc, to_signature_frame
from volcast.series import Series

CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
MODEL_ARTIFACT: Final = "model"
INPUT_EXAMPLE_ROWS: Final = 5
_NOT_FOUND_CODES: Final = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
_MAX_PARAM_CHARS: Final = 6000
_SERVING_REQUIREMENTS: Final = (
    "mlflow",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "arch",
    "cloudpickle",
)


def model_name(symbol: str, interval: str) -> str:
    """Registered model name ``volcast-<slug>-<interval>`` (EUR/USD 1h -> volcast-eurusd-1h)."""
    return Series(symbol, interval).model_name


def experiment_name(symbol: str, interval: str) -> str:
    """The experiment holding every training run of one instrument and interval."""
    return model_name(symbol, interval)


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow's tracking and registry at ``tracking_uri`` (default from settings).

    For a SQLite URI the database's directory is created. Returns the URI in use.
    """
    uri = tracking_uri or get_settings().tracking_uri()
    db_path = _sqlite_path(uri)
    if db_path is not None:
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the MLflow store directory: {exc}") from exc
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).resolve()


def client(tracking_uri: str | None = None) -> MlflowClient:
    """An MLflow client on the configured tracking and registry URI."""
    uri = configure(tracking_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def open_local_store(tracking_uri: str | None = None) -> None:
    """Create (or migrate) a local SQLite tracking and registry database now.

    A fresh database runs every MLflow schema migration on first use: seconds that a caller
    can spend while it computes something else (see ``pipeline/training``). Remote stores
    are left alone: there is nothing to create, and a slow server is the real call's to
    report.
    """
    uri = configure(tracking_uri)
    if _sqlite_path(uri) is None:
        return
    store = client(uri)
    with mlflow_errors("open the tracking store", tracking_uri=uri):
        store.search_experiments(max_results=1)
        store.search_registered_models(max_results=1)


@contextmanager
def mlflow_errors(action: str, **context: Any) -> Iterator[None]:
    """Turn MLflow exceptions into volcast errors naming ``action`` and ``context``."""
    try:
        yield
    except MlflowException as exc:
        code = str(getattr(exc, "error_code", ""))
        if code in _NOT_FOUND_CODES and "not found" in str(exc).lower():
            raise NotFoundError(f"{action}: {exc.message}", **context) from exc
        raise RegistryError(f"{action} failed: {exc.message}", **context) from exc
    except OSError as exc:
        raise RegistryError(f"{action} failed: {exc}", **context) from exc


def git_commit() -> str | None:
    """The commit volcast runs from: ``git rev-parse HEAD`` in the source tree, else CI vars."""
    for var in ("VOLCAST_GIT_COMMIT", "GITHUB_SHA", "GIT_COMMIT"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def _ensure_experiment(mlflow_client: MlflowClient, name: str, uri: str) -> str:
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifact_location = None
    db_path = _sqlite_path(uri)
    if db_path is not None:
        artifact_location = (db_path.parent / "mlartifacts" / name).as_uri()
    try:
        return str(mlflow_client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException:
        # Another process created it between our lookup and create.
        experiment = mlflow_client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{full}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[full] = text[:_MAX_PARAM_CHARS]
    return flat


def _pip_requirements() -> list[str]:
    pins = []
    for dist in _SERVING_REQUIREMENTS:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def _example_rows(input_example: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    rows = to_signature_frame(input_example[feature_names])
    complete = rows.dropna()
    return (complete if not complete.empty else rows).head(INPUT_EXAMPLE_ROWS)


class JsonDocument(Protocol):
    """Typed metadata that serialises itself to JSON (e.g. the monitoring reference stats)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""


@dataclass(frozen=True)
class RunInfo:
    """Where a training run and its registered model version landed."""

    run_id: str
    experiment_id: str
    experiment_name: str
    model_name: str
    version: int
    model_uri: str
    artifact_uri: str


def log_training_run(
    *,
    symbol: str,
    interval: str,
    source: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    model: VarianceModel,
    feature_config: ModelSpec | Mapping[str, Any],
    reference_stats: JsonDocument | Mapping[str, Any],
    input_example: pd.DataFrame,
    artifacts: Mapping[str, Path],
    tags: Mapping[str, str],
    dataset_hash: str,
    tracking_uri: str | None = None,
) -> RunInfo:
    """Log one training run, register its model and point the ``challenger`` alias at it.

    Nested ``params`` are flattened with dots; ``metrics`` with a None value are skipped.
    ``artifacts`` maps a directory inside the run's artefacts (``plots``, ``reports``, ...)
    to a file or directory to upload there. ``feature_config`` (a :class:`ModelSpec`, or its
    dict form) gets ``symbol`` and ``interval``; ``reference_stats`` is logged as given (the
    drift reference the caller computed). The model is logged as a
    :class:`VolcastPyfunc` with a signature inferred from ``input_example`` (its first complete
    rows also become the input example, hence ``serving_input_example.json``), and the run is
    tagged with the git commit, dataset hash, source, symbol and interval.
    """
    name = model_name(symbol, interval)
    context = {"symbol": symbol, "interval": interval, "model": name}
    for key, path in artifacts.items():
        if not Path(path).exists():
            raise NotFoundError(f"artefact {key!r} does not exist: {path}", **context)
    try:
        spec = (
            feature_config
            if isinstance(feature_config, ModelSpec)
            else ModelSpec.from_dict(feature_config)
        )
    except ConfigError as exc:
        raise RegistryError(f"feature_config must list feature_names: {exc}", **context) from exc
    config = spec.model_copy(update={"symbol": symbol, "interval": interval}).to_dict()
    reference = (
        dict(reference_stats) if isinstance(reference_stats, Mapping) else reference_stats.to_dict()
    )
    wrapper = VolcastPyfunc(model, feature_config=config, reference_stats=reference)
    example = _example_rows(input_example, wrapper.feature_names)
    signature = infer_signature(example, wrapper.predict(None, example))
    commit = git_commit()
    run_tags = {
        **tags,
        "symbol": symbol,
        "interval": interval,
        "source": source,
        "dataset_hash": dataset_hash,
        "git_commit": commit or "unknown",
    }
    if commit:
        run_tags["mlflow.source.git.commit"] = commit

    uri = configure(tracking_uri)
    mlflow_client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with mlflow_errors("logging the training run", **context):
        experiment_id = _ensure_experiment(mlflow_client, experiment_name(symbol, interval), uri)
        with mlflow.start_run(experiment_id=experiment_id, tags=run_tags) as run:
            mlflow.log_params(_flatten(params))
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
            for key, path in artifacts.items():
                if Path(path).is_dir():
                    mlflow.log_artifacts(str(path), artifact_path=key)
                else:
                    mlflow.log_artifact(str(path), artifact_path=key)
            mlflow.log_dict(config, "model_config/feature_config.json")
            mlflow.log_dict(reference, "model_config/reference_stats.json")
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=wrapper,
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
                metadata={"symbol": symbol, "interval": interval, "dataset_hash": dataset_hash},
            )
        version_tags = {k: v for k, v in run_tags.items() if not k.startswith("mlflow.")}
        registered = mlflow.register_model(info.model_uri, name, tags=version_tags)
        version = int(registered.version)
        mlflow_client.set_registered_model_alias(name, CHALLENGER, str(version))
        return RunInfo(
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            experiment_name=experiment_name(symbol, interval),
            model_name=name,
            version=version,
            model_uri=f"models:/{name}/{version}",
            artifact_uri=str(run.info.artifact_uri),
        )


def alias_tags(
    symbol: str, interval: str, alias: str, *, tracking_uri: str | None = None
) -> tuple[int, dict[str, str]] | None:
    """The version ``alias`` points at and its tags; None when the alias (or model) is unset."""
    name = model_name(symbol, interval)
    try:
        with mlflow_errors(f"resolving {name}@{alias}", symbol=symbol, interval=interval):
            mv = client(tracking_uri).get_model_version_by_alias(name, alias)
    except NotFoundError:
        return None
    return int(mv.version), {str(k): str(v) for k, v in (mv.tags or {}).items()}
