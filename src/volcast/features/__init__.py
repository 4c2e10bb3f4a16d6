"""Variance estimators, the feature builder shared by training and serving, and the target."""

from volcast.features.builder import (
    CALENDAR_FEATURES,
    SEASONAL_OBSERVATIONS,
    FeatureBuilder,
    build_dataset,
)
from volcast.features.estimators import (
    ESTIMATOR_COLUMNS,
    log_returns,
    realized_variance,
    variance_estimators,
)
from volcast.features.spec import Dataset, DatasetSpec
from volcast.features.target import build_target, logged_target, resolve_target

__all__ = [
    "CALENDAR_FEATURES",
    "ESTIMATOR_COLUMNS",
    "SEASONAL_OBSERVATIONS",
    "Dataset",
    "DatasetSpec",
    "FeatureBuilder",
    "build_dataset",
    "build_target",
    "log_returns",
    "logged_target",
    "realized_variance",
    "resolve_target",
    "variance_estimators",
]
