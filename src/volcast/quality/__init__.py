"""Quality gate (SPEC 2) and bar cleaning (SPEC 3): pure checks -> report.

:mod:`~volcast.quality.gate` runs the checks (:mod:`~volcast.quality.schema` for columns and
dtypes, :mod:`~volcast.quality.checks` for the values) and builds the
:class:`~volcast.quality.report.QualityReport`; :mod:`volcast.quality.cleaning` holds the
gap-filling and outlier policy.
"""

from volcast.quality.cleaning import clean_bars
from volcast.quality.gate import run_checks
from volcast.quality.report import CheckResult, QualityReport
from volcast.quality.schema import bar_schema

__all__ = [
    "CheckResult",
    "QualityReport",
    "bar_schema",
    "clean_bars",
    "run_checks",
]
