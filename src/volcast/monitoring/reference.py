"""Reference statistics of the training features, stored with each model for drift detection.

:func:`reference_statistics` summarises each numeric feature of the training rows as a
:class:`FeatureStats` (count, null ratio, mean, std, min, max, quantile bin edges and the share
of training rows in each bin). Training hands :meth:`ReferenceStats.to_dict` (plain JSON: no
numpy types, no NaN) to the registry, which logs it with the model; the drift detector reads
it back with :meth:`ReferenceStats.from_dict`. PSI compares the shares with
:func:`bin_proportions` of live values over the same edges. The outer bins are open-ended, so
a live value below the training minimum falls in the first bin and one above the maximum in
the last; ``min``/``max`` are there to count such out-of-range values separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError

SCHEMA_VERSION: Final = 1
DEFAULT_BINS: Final = 10


@dataclass(frozen=True)
class FeatureStats:
    """One feature's distribution over the training rows (None where it had no value)."""

    count: int
    null_ratio: float
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    bin_edges: tuple[float, ...] = ()
    proportions: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form logged with the model."""
        return {
            "count": self.count,
            "null_ratio": self.null_ratio,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "bin_edges": list(self.bin_edges),
            "proportions": list(self.proportions),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FeatureStats:
        """Read :meth:`to_dict`'s form; missing statistics read as None (or empty bins)."""
        return cls(
            count=int(doc.get("count") or 0),
            null_ratio=float(doc.get("null_ratio") or 0.0),
            mean=_optional(doc.get("mean")),
            std=_optional(doc.get("std")),
            min=_optional(doc.get("min")),
            max=_optional(doc.get("max")),
            bin_edges=tuple(float(e) for e in doc.get("bin_edges") or ()),
            proportions=tuple(float(p) for p in doc.get("proportions") or ()),
        )


@dataclass(frozen=True)
class ReferenceStats:
    """Per-feature training distributions: what live feature rows are compared with."""

    n_rows: int
    n_bins: int
    features: Mapping[str, FeatureStats] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON document logged with the model (``model_config/reference_stats.json``)."""
        return {
            "schema_version": self.schema_version,
            "n_rows": self.n_rows,
            "n_bins": self.n_bins,
            "features": {name: stats.to_dict() for name, stats in self.features.items()},
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ReferenceStats:
        """Read a logged document; a bare ``{feature: stats}`` mapping is accepted too."""
        if not isinstance(doc, Mapping):
            raise ConfigError(f"reference statistics must be a mapping, got {type(doc).__name__}")
        stats = doc.get("features", doc)
        if not isinstance(stats, Mapping):
            raise ConfigError("reference statistics: 'features' must map names to statistics")
        features = {
            str(name): FeatureStats.from_dict(value)
            for name, value in stats.items()
            if isinstance(value, Mapping)
        }
        return cls(
            n_rows=int(doc.get("n_rows") or 0),
            n_bins=int(doc.get("n_bins") or DEFAULT_BINS),
            features=features,
            skipped=tuple(str(s) for s in doc.get("skipped") or ()),
            schema_version=int(doc.get("schema_version") or SCHEMA_VERSION),
        )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bin_proportions(values: npt.ArrayLike, edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each bin delimited by ``edges`` (outer bins open-ended).

    ``edges`` are a feature's ``bin_edges``; there are ``len(edges) - 1`` bins (one when all
    edges coincide; none when the reference had no values). NaN values are ignored; with no
    finite value every share is 0.
    """
    if len(edges) < 2:
        return []
    x = np.asarray(values, dtype="float64").ravel()
    x = x[np.isfinite(x)]
    inner = np.asarray(edges, dtype="float64")[1:-1]
    n_bins = len(edges) - 1
    if x.size == 0:
        return [0.0] * n_bins
    # side="left": a value equal to an inner edge belongs to the bin below it, as in np.quantile.
    idx = np.searchsorted(inner, x, side="left")
    counts = np.bincount(idx, minlength=n_bins)
    return [float(c) / x.size for c in counts]


def _feature_stats(x: npt.NDArray[np.float64], n_bins: int, n_rows: int) -> FeatureStats:
    finite = x[np.isfinite(x)]
    null_ratio = 1.0 - finite.size / n_rows if n_rows else 0.0
    if finite.size == 0:
        return FeatureStats(0, null_ratio, None, None, None, None)
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    return FeatureStats(
        count=int(finite.size),
        null_ratio=null_ratio,
        mean=_finite_or_none(finite.mean()),
        std=_finite_or_none(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        min=float(finite.min()),
        max=float(finite.max()),
        bin_edges=tuple(float(e) for e in edges),
        proportions=tuple(bin_proportions(finite, edges.tolist())),
    )


def reference_statistics(features: pd.DataFrame, *, n_bins: int = DEFAULT_BINS) -> ReferenceStats:
    """Per-feature distribution summary of the training features (pure).

    Numeric and boolean columns are summarised; others (timestamps, strings) are skipped and
    listed under ``skipped``. Bins are quantile bins; duplicate edges (discrete or constant
    features) are merged, so a feature may have fewer than ``n_bins`` bins.
    """
    if n_bins < 1:
        raise ConfigError(f"n_bins must be at least 1, got {n_bins}")
    stats: dict[str, FeatureStats] = {}
    skipped: list[str] = []
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_bool_dtype(column):
            column = column.astype("float64")
        if not pd.api.types.is_numeric_dtype(column):
            skipped.append(str(name))
            continue
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        stats[str(name)] = _feature_stats(values, n_bins, len(features))
    return ReferenceStats(
        n_rows=len(features), n_bins=n_bins, features=stats, skipped=tuple(skipped)
    )
