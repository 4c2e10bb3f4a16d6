"""Typed feature configuration of a registered model (its logged ``feature_config``).

Training builds a :class:`ModelSpec`, the registry logs :meth:`ModelSpec.to_dict` with the
model (``model_config/feature_config.json`` and inside the pyfunc), and readers parse it back
with :meth:`ModelSpec.from_dict`, which also reads the configs of models registered before
this class existed (only ``feature_names`` is required).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError
from volcast.features.target import logged_target


class ModelSpec(BaseModel):
    """What a registered model reads and how its inputs were built.

    ``feature_names`` are the pyfunc's input columns in order (timestamp, features, ``rv``);
    ``model_features`` the dataset features the model was fitted on (what a refit of the same
    specification needs); ``features``/``target`` the parameter sections the dataset was
    built with (serving rebuilds the same features from them).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    feature_names: tuple[str, ...]
    model_features: tuple[str, ...] = ()
    features: FeatureParams | None = None
    target: TargetParams | None = None
    model: str | None = None
    warmup_bars: int = 0
    symbol: str | None = None
    interval: str | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _logged_target(cls, value: Any) -> Any:
        """A model logged before the data-driven floor was trained with its logged floor."""
        return logged_target(value) if isinstance(value, Mapping) else value

    @property
    def horizon(self) -> int:
        """Bars the target spans (1 when the config does not say)."""
        return self.target.horizon if self.target is not None else 1

    def to_dict(self) -> dict[str, Any]:
        """The logged JSON form (unset optional keys are left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ModelSpec:
        """Parse a logged ``feature_config``; raises ConfigError when it lacks feature names."""
        try:
            return cls.model_validate(dict(doc))
        except ValidationError as exc:
            raise ConfigError(f"invalid model feature config: {exc}") from exc
