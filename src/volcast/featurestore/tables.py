"""Names Feast knows volcast's series by, and the offline rows it reads (no I/O here).

Feast's file source needs the entity key as a column, which the feature builder's dataset
does not have: the offline table of a series is the dataset's rows (``timestamp``, the
features, ``rv``) with ``series`` added and the label (``target``) left out.
"""

from __future__ import annotations

import pandas as pd

from volcast.schemas import TIMESTAMP
from volcast.series import Series

ENTITY = "series"
"""The Feast entity (and its join key)."""


def entity_key(series: Series) -> str:
    """The entity key of a series: ``<slug>/<interval>`` (EUR/USD 1h -> ``eurusd/1h``)."""
    return f"{series.slug}/{series.interval}"


def view_name(series: Series) -> str:
    """The feature view of a series: ``volcast_<slug>_<interval>`` (scripts/feast/render.py)."""
    return f"volcast_{series.slug}_{series.interval}"


def table_name(series: Series) -> str:
    """The offline table's file name under ``<feature store home>/offline/``."""
    return f"{series.slug}_{series.interval}.parquet"


def offline_rows(dataset: pd.DataFrame, series: Series, features: list[str]) -> pd.DataFrame:
    """``series``, ``timestamp`` (UTC), ``features`` in order: the rows Feast reads."""
    missing = [name for name in [TIMESTAMP, *features] if name not in dataset.columns]
    if missing:
        raise KeyError(f"the dataset of {series} lacks {missing}")
    out = dataset[[TIMESTAMP, *features]].reset_index(drop=True)
    stamps = pd.DatetimeIndex(out[TIMESTAMP])
    out[TIMESTAMP] = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    out.insert(0, ENTITY, entity_key(series))
    return out
