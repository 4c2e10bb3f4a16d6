"""Quality gate (SPEC 2) and bar cleaning (SPEC 3): pure checks -> report; ``gate`` raises.

See :mod:`volcast.quality.checks` for the list of checks and their severities and
:mod:`volcast.quality.cleaning` for the gap-filling and outlier policy.
"""

from volcast.quality.checks import bar_schema, gate, run_checks
from volcast.quality.cleaning import clean_bars
from volcast.quality.report import CheckResult, QualityReport

__all__ = [
    "CheckResult",
    "QualityReport",
    "bar_schema",
    "clean_bars",
    "gate",
    "run_checks",
]
