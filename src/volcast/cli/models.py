"""The model commands (``train``, ``backtest``, ``promote``) and ``pipeline``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from volcast.cli import logs
from volcast.cli.app import app, run
from volcast.cli.edge import REJECTED_EXIT_CODE, command, report_error
from volcast.cli.options import (
    AllInstrumentsOpt,
    AllModelsOpt,
    ConfigOpt,
    FileFormatOpt,
    ForceOpt,
    IntervalOpt,
    Options,
    OutputOpt,
    PathOpt,
    SkipOpt,
    SourceOpt,
    StaleOpt,
    SymbolOpt,
    TargetOpt,
    TradingOpt,
    TsColOpt,
    TsFmtOpt,
    TzOpt,
)
from volcast.cli.output import console, err_console
from volcast.cli.target_output import print_variance_trading
from volcast.config import get_settings, load_params
from volcast.errors import ConfigError, VolcastError
from volcast.pipeline.run import (
    PIPELINE,
    SourceSpec,
    backtest_order,
    check_output,
    export_predictions,
)


@app.command()
@command()
def train(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
    force: ForceOpt = False,
    target: TargetOpt = None,
) -> None:
    """Backtest every candidate, fit the best, log it to MLflow and register it as @challenger.

    Skipped when the dataset, the training parameters and the code are unchanged since the
    last registered challenger (--force retrains anyway).
    """
    run(Options(config, symbol, interval, force=force, target=target), ("train",))


@app.command()
@command()
def backtest(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    source_timezone: TzOpt = None,
    file_format: FileFormatOpt = None,
    max_staleness: StaleOpt = None,
    output: OutputOpt = None,
    all_models: AllModelsOpt = False,
    target: TargetOpt = None,
    trading: TradingOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Walk-forward backtest of every candidate; prints the metrics table.

    With --source/--path the data is ingested, gated and featurised first. --output writes
    the selected model's forecast for every out-of-sample bar (--all-models: every model's).
    --target return|direction backtests the next bar's return or direction instead of its
    variance, with a paper-trading backtest against buy-and-hold; for variance, --trading
    adds a volatility-targeted position against constant exposure.
    """
    if all_models and output is None:
        raise ConfigError("--all-models needs --output FILE.csv: it selects which rows to write")
    spec = SourceSpec(
        source, path, timestamp_column, timestamp_format, skip_rows, source_timezone, file_format
    )
    options = Options(config, symbol, interval, spec, max_staleness, target=target)
    if output is not None:
        check_output(output)  # before any work: a bad path fails at once
    options.context()  # a bad --target fails before any work too
    result = run(options, backtest_order(spec))
    if output is not None:
        from volcast.evaluation.backtest import BacktestResult
        from volcast.evaluation.target_backtest import TargetBacktestResult

        bt = result.results["backtest"]
        assert isinstance(bt, BacktestResult | TargetBacktestResult)
        rows = export_predictions(bt, output, all_models=all_models)
        which = "every model" if all_models else bt.selected
        console.print(f"  predictions: {output.resolve()} ({rows} rows, {which})")
    if trading:
        print_variance_trading(options, result)


@app.command()
@command()
def promote(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
    target: TargetOpt = None,
) -> None:
    """Promote @challenger to @champion if it beats the champion on the same recent window.

    Exits 9 when the challenger is rejected (the champion stays; the reason is recorded).
    """
    if run(Options(config, symbol, interval, target=target), ("promote",)).rejected:
        raise typer.Exit(code=REJECTED_EXIT_CODE)


@app.command()
@command()
def pipeline(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    source_timezone: TzOpt = None,
    file_format: FileFormatOpt = None,
    max_staleness: StaleOpt = None,
    config: ConfigOpt = None,
    force: ForceOpt = False,
    all_instruments: AllInstrumentsOpt = False,
    target: TargetOpt = None,
) -> None:
    """Run every stage in order: ingest -> validate -> features -> train -> promote.

    Runs on the embedded synthetic sample by default. With --target return|direction (or
    target.kind in params.yaml) train and promote that target's registered model
    (volcast-<slug>-<interval>-<target>). A rejected challenger is a normal
    outcome here (the champion stays), reported but not an error. --all runs every series
    of params.yaml's instruments: in turn; a failing series is reported and the others still
    run (exit 1 at the end when any failed).
    """
    if all_instruments:
        named = [source, path, symbol, interval, timestamp_column, timestamp_format, skip_rows]
        if any(v is not None for v in [*named, source_timezone, file_format]):
            raise ConfigError(
                "--all runs the series of params.yaml's instruments:; it takes no series or "
                "source options (edit instruments: instead)"
            )
        _pipeline_all(config, max_staleness, force, target)
        return
    spec = SourceSpec(
        source, path, timestamp_column, timestamp_format, skip_rows, source_timezone, file_format
    )
    options = Options(config, symbol, interval, spec, max_staleness, force, target=target)
    result = run(options, PIPELINE)
    times = ", ".join(f"{stage} {sec:.1f} s" for stage, sec in result.seconds.items())
    console.print(f"stage times: {times}")
    data_dir = get_settings().data_dir
    console.print(f"outputs under {data_dir if '://' in data_dir else Path(data_dir).resolve()}")
    if logs.current is not None:
        console.print(f"library logs: {logs.current}")


def _pipeline_all(
    config: Path | None, max_staleness: str | None, force: bool, target: str | None = None
) -> None:
    """``pipeline --all``: every configured instrument in turn, then a summary table."""
    instruments = load_params(config).series_list()
    outcomes: list[tuple[str, str, float, str]] = []
    for i, inst in enumerate(instruments, 1):
        name = f"{inst.symbol} {inst.interval}"
        console.rule(f"[bold]{i}/{len(instruments)}[/] {name} ({inst.source})")
        spec = SourceSpec(
            inst.source,
            None if inst.path is None else Path(inst.path),
            inst.timestamp_column,
            inst.timestamp_format,
            inst.skip_rows,
            inst.source_timezone,
            inst.file_format,
        )
        started = time.perf_counter()
        try:
            result = run(
                Options(
                    config, inst.symbol, inst.interval, spec, max_staleness, force, target=target
                ),
                PIPELINE,
            )
        except VolcastError as exc:
            report_error(exc)
            outcomes.append((name, "failed", time.perf_counter() - started, str(exc)))
            continue
        note = "challenger rejected, champion kept" if result.rejected else ""
        outcomes.append((name, "ok", time.perf_counter() - started, note))
    table = Table(title=f"pipeline --all: {len(instruments)} series")
    for column in ("series", "result", "seconds", "note"):
        table.add_column(column)
    for name, status, seconds, note in outcomes:
        style = "green" if status == "ok" else "bold red"
        table.add_row(
            name, f"[{style}]{status}[/]", f"{seconds:.1f}", note.splitlines()[0] if note else ""
        )
    console.print(table)
    failed = [name for name, status, _, _ in outcomes if status != "ok"]
    if failed:
        err_console.print(
            f"[bold red]{len(failed)} of {len(outcomes)} series failed[/]: " + ", ".join(failed)
        )
        raise typer.Exit(code=1)
