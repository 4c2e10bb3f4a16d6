"""``volcast compare``: a challenger against the live champion, read-only (the CI check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from volcast.cli.app import app
from volcast.cli.edge import REJECTED_EXIT_CODE, command
from volcast.cli.options import ConfigOpt, IntervalOpt, Options, SymbolOpt
from volcast.cli.output import console

ChallengerOpt = Annotated[
    str,
    typer.Option("--challenger", help="Alias or version number of the model to judge."),
]
OutputDirOpt = Annotated[
    Path,
    typer.Option("--output-dir", help="Where the markdown comment and its plot are written."),
]
WindowOpt = Annotated[
    int | None,
    typer.Option("--window", min=24, help="Bars to compare on (default: promotion.window_bars)."),
]


@app.command()
@command()
def compare(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    challenger: ChallengerOpt = "challenger",
    output_dir: OutputDirOpt = Path("comparison"),
    window: WindowOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score a challenger and @champion on the same recent window; write the CML comment.

    Both models are refitted on the walk-forward fold schedule and forecast the same last
    bars of the stored feature dataset. Writes comparison_<slug>_<interval>.md (table and
    verdict) and its forecast-vs-realized PNG to --output-dir. Moves no alias. Exits 9 when
    the challenger would not be promoted (worse than the champion by the promotion rule, or
    than the best baseline).
    """
    # imported here: the registry brings MLflow, which must not load at CLI start-up
    from volcast.pipeline.compare import compare_challenger

    context = Options(config, symbol, interval).context()
    result = compare_challenger(
        storage=context.storage,
        symbol=context.series.symbol,
        interval=context.series.interval,
        params=context.params,
        output_dir=output_dir,
        challenger=challenger,
        window=window,
        tracking_uri=context.tracking_uri,
    )
    decision = result.decision
    console.print(f"{result.verdict}: {decision.reason}")
    console.print(f"  comment: {result.report.resolve()}")
    console.print(f"  plot: {result.plot.resolve()}")
    if not result.passed:
        raise typer.Exit(code=REJECTED_EXIT_CODE)
