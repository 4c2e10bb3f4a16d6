"""A :class:`~volcast.pipeline.report.ModelReport` as one self-contained HTML page (PNG plots
embedded as base64, inline style, no script, no external resource) and as markdown."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from html import escape
from typing import Any

import pandas as pd

from volcast.pipeline.report import ModelReport
from volcast.registry.history import VersionRecord

TABLE_COLUMNS = (
    ("qlike", "QLIKE"),
    ("rmse_vol", "RMSE vol"),
    ("r2_logvar", "R² log-var"),
    ("directional_accuracy", "direction"),
    ("dm_stat", "DM stat"),
    ("dm_pvalue", "DM p"),
    ("n_forecasts", "bars"),
)
MONITORING_KEYS = (
    ("rolling_qlike", "rolling QLIKE (champion)"),
    ("rolling_qlike_baseline", "rolling QLIKE (HAR)"),
    ("training_qlike", "QLIKE in training"),
    ("decay_detected", "decay detected"),
    ("drift_detected", "drift detected"),
    ("ood_ratio", "OOD ratio"),
    ("drifted_features", "drifted features"),
    ("level_detected", "volatility level shift"),
    ("retrains", "retrains fired"),
    ("last_processed", "last bar processed"),
)
STYLE = """body{font:15px/1.45 system-ui,sans-serif;color:#111827;max-width:1100px;margin:0 auto;
padding:1rem}table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d1d5db;
padding:.25rem .5rem;text-align:left}th{background:#f3f4f6}img{max-width:100%;height:auto}
.synthetic{color:#5b21b6;background:#ede9fe;padding:.1rem .5rem;border-radius:6px}
.fail{color:#991b1b}.note{color:#4b5563}"""


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _when(seconds: float | None) -> str:
    if not seconds:
        return "—"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table_rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for name, row in table.iterrows():
        rows.append([str(name), *(_fmt(row.get(key)) for key, _ in TABLE_COLUMNS)])
    return rows


def _history_rows(history: list[VersionRecord]) -> list[list[str]]:
    return [
        [
            f"v{r.version}",
            r.kind or "—",
            _when(r.registered_at),
            ", ".join(r.aliases) or "—",
            r.decision or "—",
            _when(r.decided_at),
            r.reason or "—",
        ]
        for r in history
    ]


HISTORY_HEAD = ["version", "model", "registered", "aliases", "decision", "decided", "reason"]


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _data_rows(report: ModelReport) -> list[list[str]]:
    data = report.data
    keys = ("source", "rows", "first_timestamp", "last_timestamp", "live", "synthetic")
    return [[key, _fmt(data.get(key))] for key in keys]


def _quality_rows(report: ModelReport) -> list[list[str]]:
    checks = (report.quality or {}).get("checks") or []
    return [
        [str(c.get("name")), str(c.get("status")), str(c.get("message"))]
        for c in checks
        if isinstance(c, dict)
    ]


def _monitoring_rows(report: ModelReport) -> list[list[str]]:
    state = report.monitoring or {}
    rows = [[label, _fmt(state.get(key))] for key, label in MONITORING_KEYS if key in state]
    events = state.get("events")
    if isinstance(events, dict):
        counts = ", ".join(f"{k} {v}" for k, v in events.items() if v)
        rows.append(["events", counts or "none"])
    return rows


def _title(report: ModelReport) -> str:
    return f"volcast report: {report.series}"


def render_html(report: ModelReport) -> str:
    """The report as one HTML document with every plot embedded."""
    parts = [f"<h1>{escape(_title(report))}</h1>"]
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="note">Generated {generated}.</p>')
    if report.data.get("synthetic"):
        parts.append('<p><span class="synthetic">Synthetic data</span> (sample generator)</p>')
    parts += ["<h2>Data</h2>", _html_table(["field", "value"], _data_rows(report))]
    if report.quality is not None:
        verdict = "passed" if report.quality.get("passed") else "FAILED"
        parts.append(f"<h3>Quality gate: {verdict}</h3>")
        parts.append(_html_table(["check", "status", "detail"], _quality_rows(report)))
    if report.table is not None:
        best = report.table.attrs.get("best_baseline")
        parts.append("<h2>Backtest (walk-forward, out of sample)</h2>")
        parts.append(
            f"<p>{report.table.attrs.get('n_bars', 0)} bars forecast by every model. DM: "
            f"Diebold-Mariano test of QLIKE against the best baseline ({escape(str(best))}); "
            "a negative statistic means a lower loss.</p>"
        )
        head = ["model", *(label for _, label in TABLE_COLUMNS)]
        parts.append(_html_table(head, _table_rows(report.table)))
    for title, png in report.images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{escape(title)}</h2>")
        parts.append(f'<img alt="{escape(title)}" src="data:image/png;base64,{data}">')
    for kind, table in report.targets.items():
        parts.append(f"<h2>Paper trading: {escape(kind)} forecasts vs buy-and-hold</h2>")
        parts.append(
            "<p>Out-of-sample positions of each model of the stored walk-forward (long above "
            "0.5 / above zero, short below), costs and slippage from <code>trading:</code>.</p>"
        )
        head = ["strategy", *(str(c) for c in table.columns)]
        rows = [[str(name), *(_fmt(v) for v in row)] for name, row in table.iterrows()]
        parts.append(_html_table(head, rows))
    parts.append("<h2>Champion and promotion history</h2>")
    if report.champion is not None:
        parts.append(
            f"<p>@champion: v{report.champion.version} ({escape(report.kind or '—')}); "
            f"{escape(report.champion.reason or 'no promotion reason recorded')}</p>"
        )
    parts.append(_html_table(HISTORY_HEAD, _history_rows(report.history)))
    parts.append("<h2>Drift and realized loss (live loop)</h2>")
    rows = _monitoring_rows(report)
    parts.append(_html_table(["state", "value"], rows) if rows else "<p>No stream state.</p>")
    if report.notes:
        notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
        parts.append(f'<h2>Notes</h2><ul class="note">{notes}</ul>')
    body = "\n".join(parts)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(_title(report))}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: ModelReport) -> str:
    """The summary as GitHub markdown (the CML comment): tables, no images."""
    lines = [f"## {_title(report)}", ""]
    data = report.data
    label = " (synthetic data)" if data.get("synthetic") else ""
    lines += [
        f"Data{label}: {_fmt(data.get('rows'))} bars from {_fmt(data.get('source'))}, "
        f"{_fmt(data.get('first_timestamp'))} .. {_fmt(data.get('last_timestamp'))}.",
        "",
    ]
    if report.quality is not None:
        failed = [r[0] for r in _quality_rows(report) if r[1] == "failed"]
        verdict = "passed" if report.quality.get("passed") else "FAILED"
        label = "warnings" if report.quality.get("passed") else "failed"
        detail = f" ({label}: {', '.join(failed)})" if failed else ""
        lines += [f"Quality gate: **{verdict}**{detail}", ""]
    if report.table is not None:
        best = report.table.attrs.get("best_baseline")
        lines += [f"### Backtest (DM vs best baseline: {best})", ""]
        lines += _md_table(["model", *(lab for _, lab in TABLE_COLUMNS)], _table_rows(report.table))
    if report.champion is not None:
        lines += [f"Champion: **v{report.champion.version}** ({report.kind or '—'}).", ""]
    if report.history:
        lines += ["### Promotion history", ""]
        lines += _md_table(HISTORY_HEAD, _history_rows(report.history))
    rows = _monitoring_rows(report)
    if rows:
        lines += ["### Drift and realized loss", ""]
        lines += _md_table(["state", "value"], rows)
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"
