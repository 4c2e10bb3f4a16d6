"""``volcast report``: a self-contained HTML report of one series' model (and its markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from volcast.cli.app import app
from volcast.cli.edge import command
from volcast.cli.options import ConfigOpt, IntervalOpt, Options, SymbolOpt
from volcast.cli.output import console

ReportOutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", help="HTML file to write (default: report_<slug>_<interval>.html here)."
    ),
]
MarkdownOpt = Annotated[
    Path | None,
    typer.Option("--markdown", help="Also write the markdown summary (the CML comment) here."),
]


@app.command()
@command()
def report(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    output: ReportOutputOpt = None,
    markdown: MarkdownOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a self-contained HTML report: data and quality, the backtest with Diebold-Mariano
    tests, forecast and error plots, feature importance, promotions, drift and loss."""
    # imported here: the registry brings MLflow, which must load after the log routing
    # (cli/logs.py) has told it not to configure its own handlers
    from volcast.pipeline.report import build_report, write_report

    context = Options(config, symbol, interval).context()
    series = context.series
    built = build_report(
        context.storage,
        series,
        tracking_uri=context.tracking_uri,
        horizon=context.params.target.horizon,
        trading=context.params.trading,
    )
    target = output or Path(f"report_{series.slug}_{series.interval}.html")
    html, md = write_report(built, output=target, markdown=markdown)
    console.print(f"report: {html.resolve()} ({len(built.images)} plots)")
    if md is not None:
        console.print(f"markdown: {md.resolve()}")
    for note in built.notes:
        console.print(f"  note: {note}")
