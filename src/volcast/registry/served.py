"""A registered model ready to forecast: ``@champion`` loaded behind a protocol.

Used by the API and by the stream worker alike (the registry's loaded-model API for
everything that forecasts from stored bars).

:class:`ServedModel` is what the hot path needs of a registered model: its input columns, the
feature builder it was trained with, its drift reference and a ``predict`` on a feature
frame. :class:`RegistryLoader` builds it from :func:`volcast.registry.load_model`; anything
with ``current_version`` and ``load`` (a :class:`ModelLoader`) can stand in for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from volcast.config import FeatureParams, Params
from volcast.errors import ModelError, VolcastError
from volcast.features import FeatureBuilder
from volcast.features.target import logged_target
from volcast.schemas import TIMESTAMP
from volcast.series import Series

if TYPE_CHECKING:
    from volcast.registry.history import VersionRecord

log = logging.getLogger(__name__)

Predictor = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class ServedModel:
    """A loaded model version with everything the service needs to score a feature row."""

    symbol: str
    interval: str
    name: str
    version: int
    alias: str | None
    run_id: str
    input_columns: tuple[str, ...]
    builder: FeatureBuilder
    reference_stats: dict[str, Any]
    predictor: Predictor
    sequential: bool = False
    """Whether a forecast depends on earlier rows (EWMA, GARCH, combination): such a model is
    run through the history in time order and its last forecast taken."""
    kind: str | None = None
    """The candidate the model is (``combination``, ``lightgbm``, ...) when its config says."""
    loaded_at: float = field(default_factory=time.time)
    record: VersionRecord | None = None
    """The registry's record of the version (registered when, promotion decision, run
    metrics), read when it was loaded; None when unavailable."""

    @property
    def feature_inputs(self) -> list[str]:
        """Input columns a caller must supply as features (all but ``timestamp``)."""
        return [c for c in self.input_columns if c != TIMESTAMP]

    @property
    def uses_timestamp(self) -> bool:
        """Whether the model reads the bar's timestamp (seasonal terms)."""
        return TIMESTAMP in self.input_columns

    @property
    def series(self) -> Series:
        """The series the model forecasts."""
        return Series(self.symbol, self.interval)

    @property
    def horizon(self) -> int:
        """Bars ahead the model forecasts."""
        return self.builder.target.horizon

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Variance forecasts for the rows of ``X``; :class:`ModelError` if any is not finite."""
        variance = np.asarray(self.predictor(X[list(self.input_columns)]), dtype="float64")
        variance = variance.reshape(-1)
        if variance.shape[0] != len(X) or not np.all(np.isfinite(variance)):
            raise ModelError(
                f"model {self.name} v{self.version} returned a non-finite or missing forecast",
                symbol=self.symbol,
                interval=self.interval,
            )
        clipped: np.ndarray = np.maximum(variance, 0.0)
        return clipped


class ModelLoader(Protocol):
    """Where served models come from (the MLflow registry in production)."""

    def current_version(self, symbol: str, interval: str) -> int | None:
        """The version the served alias points at now (None when unset); cheap, polled."""

    def load(self, symbol: str, interval: str) -> ServedModel:
        """Load the version the served alias points at."""


def builder_from_config(
    feature_config: dict[str, Any], *, interval: str, params: Params
) -> FeatureBuilder:
    """The feature builder a model was trained with, from its logged feature config.

    ``feature_config['features']`` and ``['target']`` (dumps of the parameter sections) win;
    sections the config lacks come from ``params``.
    """
    features = params.features
    target = params.target
    if isinstance(feature_config.get("features"), dict):
        features = FeatureParams.model_validate(feature_config["features"])
    if isinstance(feature_config.get("target"), dict):
        target = logged_target(feature_config["target"])
    return FeatureBuilder(features=features, target=target, interval=interval)


class RegistryLoader:
    """Loads ``models:/volcast-<slug>-<interval>@<alias>`` through :mod:`volcast.registry`.

    Adapts the registry's :class:`~volcast.registry.LoadedModel`: scoring goes through its
    :meth:`~volcast.registry.LoadedModel.predict_variance` (no per-call schema enforcement).
    """

    def __init__(
        self,
        *,
        alias: str,
        params: Params,
        tracking_uri: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.alias = alias
        self.params = params
        self.tracking_uri = tracking_uri
        self.timeout = timeout
        """Seconds per registry call; set, the calls are not retried (polled: fail fast)."""

    def _limits(self) -> dict[str, Any]:
        if self.timeout is None:
            return {}
        return {"max_retries": 0, "timeout": self.timeout}

    def current_version(self, symbol: str, interval: str) -> int | None:
        """The version ``alias`` resolves to (raises RegistryError when unreachable)."""
        from volcast.registry.loading import resolve_alias

        return resolve_alias(
            symbol, interval, self.alias, tracking_uri=self.tracking_uri, **self._limits()
        )

    def load(self, symbol: str, interval: str) -> ServedModel:
        """Load the aliased version; NotFoundError when unset, RegistryError when down."""
        from volcast.registry.history import version_record
        from volcast.registry.loading import load_model

        loaded = load_model(
            symbol, interval, self.alias, tracking_uri=self.tracking_uri, **self._limits()
        )
        try:
            record: VersionRecord | None = version_record(
                symbol, interval, loaded.version, tracking_uri=self.tracking_uri, **self._limits()
            )
        except VolcastError as exc:  # the model itself loaded: serve it without its record
            log.warning("no registry record of %s v%s: %s", loaded.name, loaded.version, exc)
            record = None
        return ServedModel(
            symbol=symbol,
            interval=interval,
            name=loaded.name,
            version=loaded.version,
            alias=loaded.alias,
            run_id=loaded.run_id,
            input_columns=loaded.input_columns,
            builder=builder_from_config(
                loaded.feature_config, interval=interval, params=self.params
            ),
            reference_stats=loaded.reference_stats,
            predictor=loaded.predict_variance,
            sequential=loaded.sequential,
            kind=_kind(loaded.feature_config),
            record=record,
        )


def _kind(feature_config: dict[str, Any]) -> str | None:
    kind = feature_config.get("model")
    return kind if isinstance(kind, str) else None
