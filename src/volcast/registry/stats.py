"""Reference statistics of the training features, stored with each model for drift detection.

The result of :func:`reference_statistics` is plain JSON (no numpy types, no NaN): for each
numeric feature its count, null ratio, mean, std, min, max, quantile bin edges and the share of
training rows in each bin. PSI compares those shares with :func:`bin_proportions` of live
values over the same edges. The outer bins are open-ended, so a live value below the training
minimum falls in the first bin and one above the maximum in the last; ``min``/``max`` are
there to count such out-of-range values separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError

SCHEMA_VERSION: Final = 1
DEFAULT_BINS: Final = 10


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bin_proportions(values: npt.ArrayLike, edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each bin delimited by ``edges`` (outer bins open-ended).

    ``edges`` are a feature's ``bin_edges`` from :func:`reference_statistics`; there are
    ``len(edges) - 1`` bins (one when all edges coincide; none when the reference had no
    values). NaN values are ignored; with no finite value every share is 0.
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


def _feature_stats(x: npt.NDArray[np.float64], n_bins: int, n_rows: int) -> dict[str, Any]:
    finite = x[np.isfinite(x)]
    null_ratio = 1.0 - finite.size / n_rows if n_rows else 0.0
    if finite.size == 0:
        return {
            "count": 0,
            "null_ratio": null_ratio,
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "bin_edges": [],
            "proportions": [],
        }
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    return {
        "count": int(finite.size),
        "null_ratio": null_ratio,
        "mean": _finite_or_none(finite.mean()),
        "std": _finite_or_none(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        "min": float(finite.min()),
        "max": float(finite.max()),
        "bin_edges": [float(e) for e in edges],
        "proportions": bin_proportions(finite, edges.tolist()),
    }


def reference_statistics(features: pd.DataFrame, *, n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Per-feature distribution summary of the training features (pure, JSON-serialisable).

    Numeric and boolean columns are summarised; others (timestamps, strings) are skipped and
    listed under ``skipped``. Bins are quantile bins; duplicate edges (discrete or constant
    features) are merged, so a feature may have fewer than ``n_bins`` bins.
    """
    if n_bins < 1:
        raise ConfigError(f"n_bins must be at least 1, got {n_bins}")
    stats: dict[str, Any] = {}
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
    return {
        "schema_version": SCHEMA_VERSION,
        "n_rows": len(features),
        "n_bins": n_bins,
        "features": stats,
        "skipped": skipped,
    }
