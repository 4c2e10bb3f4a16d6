"""Monitoring: input-drift detectors and the realized-loss tracker, fed by the API and the
stream worker."""

from volcast.monitoring.drift import PSI_EPSILON, DriftDetector
from volcast.monitoring.loss import LossTracker, Scored

__all__ = ["PSI_EPSILON", "DriftDetector", "LossTracker", "Scored"]
