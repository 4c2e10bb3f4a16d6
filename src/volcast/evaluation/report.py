"""The markdown comparison report written for every promotion decision (CML-ready)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PRIMARY_METRIC = "qlike"


@dataclass(frozen=True)
class ReportRow:
    """One model in the comparison table: its role (challenger, champion, baseline)."""

    role: str
    name: str
    metrics: Mapping[str, float] = field(default_factory=dict)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4g}"


def _columns(rows: Sequence[ReportRow]) -> list[str]:
    seen: dict[str, None] = {PRIMARY_METRIC: None}
    for row in rows:
        for key in row.metrics:
            seen.setdefault(key, None)
    return list(seen)


def comparison_report(
    *,
    title: str,
    promoted: bool,
    reason: str,
    rows: Sequence[ReportRow],
    margin: float,
    window: str | None = None,
    plot: str | None = None,
) -> str:
    """Render the comparison of challenger, champion and baselines as GitHub markdown.

    The table has one line per row and one column per metric seen (QLIKE first, lower is
    better; the lowest QLIKE is in bold). ``plot`` is a path relative to where the report is
    written, embedded as an image link so CML uploads it with the comment.
    """
    verdict = "PROMOTED" if promoted else "NOT PROMOTED"
    lines = [f"## {title}", "", f"**Decision: {verdict}** — {reason}", ""]
    if window:
        lines += [f"Scored on the same out-of-sample window: {window}.", ""]
    lines += [
        f"Rule: the challenger's QLIKE must beat the champion's by a relative margin of "
        f"{margin:.2%} and be no worse than the best baseline.",
        "",
    ]
    columns = _columns(rows)
    qlikes = [
        row.metrics[PRIMARY_METRIC]
        for row in rows
        if PRIMARY_METRIC in row.metrics and math.isfinite(row.metrics[PRIMARY_METRIC])
    ]
    best = min(qlikes) if qlikes else None
    lines.append("| role | model | " + " | ".join(columns) + " |")
    lines.append("|---|---|" + "---:|" * len(columns))
    for row in rows:
        cells = []
        for column in columns:
            value = row.metrics.get(column)
            text = _fmt(value)
            if column == PRIMARY_METRIC and value is not None and value == best:
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {row.role} | {row.name} | " + " | ".join(cells) + " |")
    if plot:
        lines += ["", f"![forecast vs realized]({plot})"]
    lines.append("")
    return "\n".join(lines)
