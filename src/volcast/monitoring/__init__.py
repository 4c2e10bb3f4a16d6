"""Monitoring: everything about watching a model in service.

Reference statistics of the training features, input-drift and decay detectors, the
realized-loss tracker, the retrain trigger and the series monitor that combines them; fed by
the API and by the stream worker. Pure: no clock, no I/O.
"""

from volcast.monitoring.drift import PSI_EPSILON, DriftDetector
from volcast.monitoring.loss import LossTracker, Scored
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
    "LossTracker",
    "ReferenceStats",
    "Scored",
    "bin_proportions",
    "reference_statistics",
]
