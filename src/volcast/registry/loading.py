"""Registry reads: resolve an alias, load a registered model with its metadata.

:class:`LoadedModel` is the one view of a registered version that the rest of volcast uses
(serving, promotion): nobody else unwraps the MLflow pyfunc.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd

from volcast.errors import NotFoundError, RegistryError
from volcast.registry.pyfunc import VolcastPyfunc, to_signature_frame
from volcast.registry.tracking import CHAMPION, client, mlflow_errors, model_name


@dataclass(frozen=True)
class LoadedModel:
    """A registered volcast model loaded for scoring, with what serving and drift need.

    ``pyfunc`` is the MLflow ``PyFuncModel``; :meth:`predict` goes through it, so inputs
    are checked against the logged signature.
    """

    pyfunc: Any
    name: str
    version: int
    alias: str | None
    run_id: str
    model_uri: str
    feature_config: dict[str, Any]
    reference_stats: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        """The model's input columns, in order."""
        return [str(name) for name in self.feature_config["feature_names"]]

    @property
    def estimator(self) -> Any:
        """The fitted volcast model inside the pyfunc (for refits of the same specification)."""
        return self.pyfunc.unwrap_python_model().model

    @property
    def sequential(self) -> bool:
        """Whether a forecast depends on earlier rows (EWMA, GARCH, the combination)."""
        return bool(getattr(self.estimator, "sequential", False))

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The model's input columns, in order, as a tuple."""
        return tuple(self.feature_names)

    def predict_variance(self, X: pd.DataFrame) -> np.ndarray:
        """Variance forecasts of the fitted estimator for the rows of ``X``, as float64.

        Calls the estimator directly, skipping MLflow's per-call schema enforcement (the hot
        path of serving): ``X`` must already hold the input columns, tz-aware timestamps
        included. Use :meth:`predict` for the checked pyfunc route.
        """
        forecast: np.ndarray = np.asarray(self.estimator.predict(X), dtype="float64")
        return forecast

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Variance, volatility and annualised volatility for each feature row."""
        result = self.pyfunc.predict(to_signature_frame(features[self.feature_names]))
        return pd.DataFrame(result)


_MAX_RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
_TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"


@contextlib.contextmanager
def request_limits(*, max_retries: int | None, timeout: float | None) -> Iterator[None]:
    """MLflow's HTTP retries and timeout set for the calls inside, then restored.

    MLflow reads them from the environment on every request, so they are set there for the
    duration of the block only (a caller polling the registry wants to fail fast, without
    changing the environment of the rest of the process). None leaves a setting alone.
    """
    wanted = {
        _MAX_RETRIES_ENV: None if max_retries is None else str(max_retries),
        _TIMEOUT_ENV: None if timeout is None else str(max(1, math.ceil(timeout))),
    }
    saved = {name: os.environ.get(name) for name, value in wanted.items() if value is not None}
    for name, value in wanted.items():
        if value is not None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def resolve_alias(
    symbol: str,
    interval: str,
    alias: str,
    *,
    tracking_uri: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
) -> int | None:
    """The version number ``alias`` points at, or None when the alias (or model) is unset.

    ``max_retries`` and ``timeout`` (seconds) bound MLflow's HTTP calls (see
    :func:`request_limits`).
    """
    name = model_name(symbol, interval)
    try:
        with (
            request_limits(max_retries=max_retries, timeout=timeout),
            mlflow_errors(f"resolving {name}@{alias}", symbol=symbol, interval=interval),
        ):
            mv = client(tracking_uri).get_model_version_by_alias(name, alias)
    except NotFoundError:
        return None
    return int(mv.version)


def load_model(
    symbol: str,
    interval: str,
    alias: str | None = CHAMPION,
    *,
    version: int | None = None,
    tracking_uri: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
) -> LoadedModel:
    """Load ``models:/<name>@<alias>`` (or a given ``version``) with its metadata.

    Raises :class:`~volcast.errors.NotFoundError` when the model or alias does not exist and
    :class:`~volcast.errors.RegistryError` when the registry cannot be reached.
    ``max_retries`` and ``timeout`` bound MLflow's HTTP calls (see :func:`request_limits`).
    """
    name = model_name(symbol, interval)
    context = {"symbol": symbol, "interval": interval, "model": name, "alias": alias}
    mlflow_client = client(tracking_uri)
    with (
        request_limits(max_retries=max_retries, timeout=timeout),
        mlflow_errors(f"loading {name}", **context),
    ):
        if version is not None:
            mv = mlflow_client.get_model_version(name, str(version))
            uri = f"models:/{name}/{version}"
            alias = None
        elif alias is not None:
            mv = mlflow_client.get_model_version_by_alias(name, alias)
            uri = f"models:/{name}@{alias}"
        else:
            raise RegistryError("load_model needs an alias or a version", **context)
        pyfunc = mlflow.pyfunc.load_model(uri)
    wrapper = pyfunc.unwrap_python_model()
    if not isinstance(wrapper, VolcastPyfunc):
        raise RegistryError(
            f"{uri} is not a volcast model (found {type(wrapper).__name__})", **context
        )
    return LoadedModel(
        pyfunc=pyfunc,
        name=name,
        version=int(mv.version),
        alias=alias,
        run_id=str(mv.run_id),
        model_uri=uri,
        feature_config=dict(wrapper.feature_config),
        reference_stats=dict(wrapper.reference_stats),
    )


def model_artifacts_dir(loaded: LoadedModel, *, dst: Path | None = None) -> Path:
    """Download the logged model directory (MLmodel, serving_input_example.json, ...)."""
    target = dst or Path(tempfile.mkdtemp(prefix="volcast-model-"))
    with mlflow_errors(f"downloading {loaded.model_uri}", model=loaded.name):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{loaded.name}/{loaded.version}", dst_path=str(target)
        )
    return Path(local)
