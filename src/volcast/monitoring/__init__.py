"""Monitoring: reference statistics of the training features and input-drift detectors."""

from volcast.monitoring.drift import PSI_EPSILON, DriftDetector
from volcast.monitoring.reference import (
    FeatureStats,
    ReferenceStats,
    bin_proportions,
    reference_statistics,
)

__all__ = [
    "PSI_EPSILON",
    "DriftDetector",
    "FeatureStats",
    "ReferenceStats",
    "bin_proportions",
    "reference_statistics",
]
