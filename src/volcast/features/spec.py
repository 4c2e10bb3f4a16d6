"""Typed metadata of a feature dataset: what the ``features`` stage writes beside the table.

:class:`DatasetSpec` is the dataset's ``meta.json`` (feature names, warm-up, content hash,
the parameters it was built with); :class:`Dataset` is the table and its spec together, the
one value the model stages pass around instead of ``DataFrame.attrs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError
from volcast.features.target import logged_target
from volcast.schemas import TIMESTAMP


class DatasetSpec(BaseModel):
    """What a stored feature dataset holds and how it was built (its ``meta.json``).

    ``feature_names`` are the model inputs in order, ``warmup_bars`` the rows before every
    feature is complete, ``content_hash`` the hash of the table (:func:`~volcast.storage.
    content_hash`), ``curated_hash`` that of the curated bars it was built from.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: str
    interval: str
    source: str | None = None
    synthetic: bool = False
    rows: int
    feature_names: tuple[str, ...]
    warmup_bars: int
    content_hash: str
    curated_hash: str | None = None
    features: FeatureParams | None = None
    target: TargetParams | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _logged_target(cls, value: Any) -> Any:
        """A meta.json from before the data-driven floor used its logged floor as fixed."""
        return logged_target(value) if isinstance(value, Mapping) else value

    @property
    def model_inputs(self) -> list[str]:
        """Columns a registered model reads: the timestamp (seasonal terms), features, ``rv``."""
        return [TIMESTAMP, *self.feature_names, "rv"]

    def to_dict(self) -> dict[str, Any]:
        """The ``meta.json`` document (the same keys as ever)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DatasetSpec:
        """Read a ``meta.json`` document; unknown keys are ignored."""
        try:
            return cls.model_validate(dict(doc))
        except ValidationError as exc:
            raise ConfigError(f"invalid dataset metadata: {exc}") from exc


@dataclass(frozen=True)
class Dataset:
    """A feature table (``timestamp``, the features, ``rv``, ``target``) and its spec."""

    frame: pd.DataFrame
    spec: DatasetSpec
