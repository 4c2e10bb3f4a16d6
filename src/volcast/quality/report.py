"""The quality gate's report: one result per named check, serialisable to JSON.

A check's ``status`` says what happened to it:

``passed``   the data satisfied the check;
``failed``   it did not (for a ``warning`` check this *flags* the data, the gate still passes);
``skipped``  the check does not apply and counts as passed (freshness of a file source);
``not_run``  a check it depends on failed (``required_columns``, ``schema``), so running it
             would say nothing; it counts as not passed but is not listed in ``failed``.

The report passes when no ``error`` check failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning"]
Status = Literal["passed", "failed", "skipped", "not_run"]

MAX_EXAMPLES = 5
"""How many offending values a check quotes in ``examples``."""


class CheckResult(BaseModel):
    """The outcome of one named check; ``count`` is how many rows (or values) it concerns."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    severity: Severity
    message: str
    count: int = 0
    examples: list[str] = Field(default_factory=list)
    status: Status = "passed"

    @property
    def detail(self) -> str:
        """The message followed by the examples, as quoted in a gate error."""
        if not self.examples:
            return self.message
        return f"{self.message} (e.g. {'; '.join(self.examples)})"


class QualityReport(BaseModel):
    """Every check run on one batch of bars, with the gate's verdict in ``passed``."""

    symbol: str
    interval: str
    source: str
    checked_at: datetime
    n_rows: int
    passed: bool
    checks: list[CheckResult]
    notes: list[str] = Field(default_factory=list)
    """What the source detected or assumed about the increment (file format, time zone)."""

    @property
    def failed(self) -> list[str]:
        """Names of the failed ``error`` checks (the ones that stop the pipeline)."""
        return [c.name for c in self.checks if c.severity == "error" and c.status == "failed"]

    @property
    def warnings(self) -> list[str]:
        """Names of the ``warning`` checks that flagged something (outliers, exact duplicates)."""
        return [c.name for c in self.checks if c.severity == "warning" and c.status == "failed"]

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (KeyError when the report has none)."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def summary(self) -> str:
        """One line per failed error check, naming it and its detail."""
        failed = [c for c in self.checks if c.severity == "error" and c.status == "failed"]
        if not failed:
            return f"quality gate passed for {self.symbol} {self.interval} ({self.n_rows} rows)"
        lines = [
            f"quality gate failed for {self.symbol} {self.interval} from {self.source}: "
            f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}"
        ]
        lines.extend(f"- {c.name}: {c.detail}" for c in failed)
        return "\n".join(lines)

    def to_json(self) -> str:
        """The report as indented JSON (``QualityReport.model_validate_json`` reads it back)."""
        return self.model_dump_json(indent=2)
