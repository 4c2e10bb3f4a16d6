"""The pipeline's hooks into the feature store (SPEC 17); nothing happens unless it is on.

Feast is on when ``VOLCAST_FEAST_REPO`` names the Feast repository (``feature_repo/``). Then
every successful ``features`` stage publishes the dataset it wrote (offline table, then
``feast materialize-incremental``) and every bar the live loop processes publishes that bar's
feature row the same way. A failure after ``features`` fails the stage (the store was asked
for); in the live loop it is logged and the loop goes on: the API then falls back to
computing features from bars and says so (docs/feature-store.md).
"""

from __future__ import annotations

import logging

import pandas as pd

from volcast.errors import FeatureStoreError, VolcastError
from volcast.features import DatasetSpec, FeatureBuilder, build_dataset
from volcast.featurestore import FeatureStoreSettings, Publisher
from volcast.featurestore.publish import Materialized
from volcast.pipeline.stages import read_dataset, read_dataset_spec
from volcast.series import Series
from volcast.storage import Storage

log = logging.getLogger(__name__)


def publisher(storage: Storage) -> Publisher | None:
    """The publisher when the feature store is on (None otherwise)."""
    settings = FeatureStoreSettings()
    if not settings.enabled:
        return None
    if storage.remote:
        raise FeatureStoreError(
            f"VOLCAST_FEAST_REPO is set but the data directory {storage.root} is remote; "
            "the Feast repository reads local Parquet tables"
        )
    return Publisher(settings, data_dir=storage.root)


def after_features(storage: Storage, series: Series) -> Materialized | None:
    """Publish the dataset ``features`` just wrote; None when the store is off."""
    target = publisher(storage)
    if target is None:
        return None
    dataset = read_dataset(storage, symbol=series.symbol, interval=series.interval)
    return target.publish_dataset(series, dataset.frame, _columns(dataset.spec))


class BarPublisher:
    """Publishes the feature row of each bar the live loop processes."""

    def __init__(self, storage: Storage, series: Series, target: Publisher) -> None:
        self.storage = storage
        self.series = series
        self.target = target

    def __call__(self, history: pd.DataFrame) -> Materialized | None:
        """Build the last bar's row as ``features`` would and publish it; log a failure."""
        try:
            spec = read_dataset_spec(
                self.storage, symbol=self.series.symbol, interval=self.series.interval
            )
            if spec.features is None or spec.target is None:
                raise FeatureStoreError(f"the dataset of {self.series} records no parameters")
            builder = FeatureBuilder(
                features=spec.features, target=spec.target, interval=self.series.interval
            )
            rows = build_dataset(
                history.tail(builder.required_history).reset_index(drop=True),
                features=spec.features,
                target=spec.target,
                interval=self.series.interval,
            )
            return self.target.publish_rows(self.series, rows.tail(1), _columns(spec))
        except VolcastError as exc:
            log.warning("feature store: bar not published for %s: %s", self.series, exc)
            return None


def bar_publisher(storage: Storage, series: Series) -> BarPublisher | None:
    """The live loop's per-bar hook when the store is on (None otherwise)."""
    target = publisher(storage)
    return None if target is None else BarPublisher(storage, series, target)


def _columns(spec: DatasetSpec) -> list[str]:
    return [*spec.feature_names, "rv"]
