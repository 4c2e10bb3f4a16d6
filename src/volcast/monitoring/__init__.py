"""Monitoring: input-drift detectors fed by the API and the stream worker."""

from volcast.monitoring.drift import PSI_EPSILON, DriftDetector

__all__ = ["PSI_EPSILON", "DriftDetector"]
