"""The Typer app, its global ``--verbose`` flag, and the data commands.

Each command parses its options into :class:`~volcast.cli.options.Options`, runs an order of
stages through :func:`volcast.pipeline.run.run_stages` and lets
:class:`~volcast.cli.output.ConsoleObserver` print the results.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

import typer

from volcast.cli.edge import GlobalFlags, command
from volcast.cli.options import (
    ConfigOpt,
    FileFormatOpt,
    IntervalOpt,
    Options,
    PathOpt,
    SkipOpt,
    SourceOpt,
    StaleOpt,
    SymbolOpt,
    TsColOpt,
    TsFmtOpt,
    TzOpt,
    VerboseOpt,
)
from volcast.cli.output import ConsoleObserver
from volcast.pipeline.run import RunResult, SourceSpec, Stage, run_stages

app = typer.Typer(
    name="volcast",
    help="Real-time volatility forecasting: ingest, gate, features, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(verbose: VerboseOpt = False) -> None:
    """Real-time volatility forecasting: ingest, gate, features, train, serve.

    Library logs (MLflow, alembic, warnings) go to <data dir>/logs/volcast.log; --verbose
    shows them on the terminal too.
    """
    GlobalFlags.verbose = verbose


def run(options: Options, order: Sequence[Stage]) -> RunResult:
    """Run ``order`` for the series ``options`` name, printing each stage's result."""
    context = options.context()
    with ConsoleObserver() as observer:
        return run_stages(context, order, observer)


@app.command()
@command()
def ingest(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    source_timezone: TzOpt = None,
    file_format: FileFormatOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch new closed bars from a source, archive the raw payload, stage the increment."""
    spec = SourceSpec(
        source, path, timestamp_column, timestamp_format, skip_rows, source_timezone, file_format
    )
    run(Options(config, symbol, interval, spec), ("ingest",))


@app.command()
@command()
def validate(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    max_staleness: StaleOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run the quality gate on staged + curated bars; merge them into curated bars if it passes."""
    run(Options(config, symbol, interval, max_staleness=max_staleness), ("validate",))


@app.command()
@command()
def features(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Build the feature + target dataset from the curated bars (and its profile report)."""
    run(Options(config, symbol, interval), ("features",))


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    try:
        app(prog_name="volcast")
    finally:
        # Interpreter shutdown runs the cyclic garbage collector over every object still
        # alive (MLflow, SQLAlchemy, pandas, matplotlib): 2-7 s after a pipeline, for memory
        # the OS takes back anyway. Frozen objects are skipped by it; atexit handlers, flushes
        # and reference-counted finalisers still run.
        gc.freeze()
