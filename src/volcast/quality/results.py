"""Building check results: severities, a passed/failed result, a not-run result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from volcast.quality.report import MAX_EXAMPLES, CheckResult, Severity

SEVERITY: dict[str, Severity] = {
    "exact_duplicates": "warning",
    "return_outliers": "warning",
}
"""Checks that only flag the data; every other check is an ``error``."""


def result(
    name: str,
    ok: bool,
    message: str,
    *,
    count: int = 0,
    examples: Sequence[str] = (),
) -> CheckResult:
    """The result of check ``name``: passed when ``ok``, else failed."""
    return CheckResult(
        name=name,
        passed=ok,
        severity=SEVERITY.get(name, "error"),
        message=message,
        count=count,
        examples=list(examples)[:MAX_EXAMPLES],
        status="passed" if ok else "failed",
    )


def not_run(name: str, because: Sequence[str]) -> CheckResult:
    """Check ``name`` was not run because the checks ``because`` failed."""
    return CheckResult(
        name=name,
        passed=False,
        severity=SEVERITY.get(name, "error"),
        message=f"not run: depends on {', '.join(because)}, which failed",
        status="not_run",
    )


def iso(value: Any) -> str:
    """A timestamp as ISO-8601 text."""
    return pd.Timestamp(value).isoformat()
