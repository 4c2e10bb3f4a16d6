"""The ``volcast`` command line: one short command per pipeline stage.

Every command reads ``params.yaml`` (or ``--config``), takes ``--symbol`` and ``--interval``
and converts :class:`volcast.errors.VolcastError` to a message on stderr and a non-zero exit
code; the logic lives in :mod:`volcast.pipeline.stages`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from volcast.config import Params, get_settings, load_params
from volcast.errors import ConfigError, DataQualityError, VolcastError
from volcast.serving.cli_serve import serve as serve_command

REJECTED_EXIT_CODE = 9
"""``volcast promote`` exit code when the challenger is rejected."""

app = typer.Typer(
    name="volcast",
    help="Real-time volatility forecasting: ingest, gate, features, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Outside a terminal (CI logs, pipes) Rich would wrap at 80 columns: tables need more.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Parameter file (default: ./params.yaml).")
]
SymbolOpt = Annotated[
    str | None, typer.Option("--symbol", help="Instrument, e.g. EUR/USD (default: params.yaml).")
]
IntervalOpt = Annotated[
    str | None, typer.Option("--interval", help="Bar interval, e.g. 1h (default: params.yaml).")
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="sample | csv | parquet | twelvedata | alphavantage | oanda | cryptocompare | binance",
    ),
]
PathOpt = Annotated[Path | None, typer.Option("--path", help="File for the csv/parquet source.")]
TsColOpt = Annotated[
    str | None, typer.Option("--timestamp-column", help="Timestamp column of a CSV file.")
]
TsFmtOpt = Annotated[
    str | None,
    typer.Option("--timestamp-format", help="strftime format of the CSV timestamps."),
]
SkipOpt = Annotated[
    int | None, typer.Option("--skip-rows", help="Leading lines to skip before the CSV header.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", help="CSV of every out-of-sample forecast (SPEC contract)."),
]
StaleOpt = Annotated[
    str | None,
    typer.Option(
        "--max-staleness",
        help="Fail when the last bar is older than this (e.g. 2h); live sources always check.",
    ),
]


def _run(action: Callable[[], T]) -> T:
    """Run ``action`` and turn volcast errors into a clear message and an exit code."""
    try:
        return action()
    except DataQualityError as exc:
        err_console.print(f"[bold red]quality gate failed[/]: {exc.message}")
        for name in exc.failed_checks:
            err_console.print(f"  [red]x[/] {name}")
        if exc.report_path:
            err_console.print(f"report: {exc.report_path}")
        raise typer.Exit(code=exc.exit_code) from exc
    except VolcastError as exc:
        err_console.print(f"[bold red]error[/]: {exc}")
        raise typer.Exit(code=exc.exit_code) from exc


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A rich spinner whose description each stage updates (quiet when not a terminal)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def update(message: str) -> None:
            progress.update(task, description=message)

        yield update


def _params(config: Path | None) -> Params:
    return load_params(config)


def _resolve(params: Params, symbol: str | None, interval: str | None) -> tuple[str, str]:
    from volcast.schemas import interval_seconds

    sym = symbol or params.data.symbol
    itv = interval or params.data.interval
    interval_seconds(itv)
    return sym, itv


def _staleness(value: str | None) -> pd.Timedelta | None:
    if value is None:
        return None
    try:
        delta = pd.Timedelta(value)
    except ValueError as exc:
        raise ConfigError(
            f"--max-staleness {value!r} is not a duration such as 2h or 90min"
        ) from exc
    if delta <= pd.Timedelta(0):
        raise ConfigError("--max-staleness must be positive")
    return delta


@dataclass(frozen=True)
class SourceOptions:
    """The source options ``ingest``, ``backtest`` and ``pipeline`` share."""

    source: str | None = None
    path: Path | None = None
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    skip_rows: int | None = None

    @property
    def given(self) -> bool:
        """Whether the user named a source (else the stored data is used as it is)."""
        return self.source is not None or self.path is not None


def _ingest(params: Params, opts: SourceOptions, *, symbol: str, interval: str) -> None:
    from volcast.pipeline import stages
    from volcast.sources.registry import make_source
    from volcast.storage import storage_from_settings

    source, path = opts.source, opts.path
    name = source or ("csv" if path is not None else params.data.source)
    src = make_source(
        name,
        settings=get_settings(),
        params=params,
        path=path,
        timestamp_column=opts.timestamp_column,
        timestamp_format=opts.timestamp_format,
        skip_rows=opts.skip_rows,
    )
    storage = storage_from_settings()
    result = stages.ingest(storage=storage, source=src, symbol=symbol, interval=interval)
    label = " [yellow](synthetic sample data)[/]" if name == "sample" else ""
    if result.new_rows == 0:
        console.print(
            f"ingest {symbol} {interval} from {name}{label}: no new closed bars "
            f"after {result.since} (up to date)"
        )
    else:
        console.print(
            f"ingest {symbol} {interval} from {name}{label}: {result.new_rows} new bars "
            f"{result.first_timestamp} .. {result.last_timestamp}"
        )
        console.print(f"  staged: {result.staging_path}")
    for raw in result.raw_paths[:3]:
        console.print(f"  raw:    {raw}")
    if len(result.raw_paths) > 3:
        console.print(f"  raw:    ... {len(result.raw_paths)} payloads in all")


def _validate(
    params: Params, *, symbol: str, interval: str, max_staleness: pd.Timedelta | None
) -> None:
    from volcast.pipeline import stages
    from volcast.storage import storage_from_settings

    result = stages.validate(
        storage=storage_from_settings(),
        symbol=symbol,
        interval=interval,
        params=params,
        max_staleness=max_staleness,
    )
    state = "updated" if result.changed else "unchanged"
    console.print(
        f"validate {symbol} {interval}: [green]passed[/], {result.rows} curated bars "
        f"(+{result.added_rows}), last {result.last_timestamp}, {state}"
    )
    for warning in result.warnings:
        console.print(f"  [yellow]warning[/] {warning}")
    console.print(f"  curated: {result.curated_path}")
    console.print(f"  report:  {result.report_path}")


def _features(params: Params, *, symbol: str, interval: str) -> None:
    from volcast.pipeline import stages
    from volcast.storage import storage_from_settings

    with _progress() as progress:
        result = stages.features(
            storage=storage_from_settings(),
            symbol=symbol,
            interval=interval,
            params=params,
            progress=progress,
        )
    state = "updated" if result.changed else "unchanged"
    console.print(
        f"features {symbol} {interval}: {result.rows} rows x {result.n_features} features "
        f"(warm-up {result.warmup_bars} bars), {state}, hash {result.content_hash[:12]}"
    )
    console.print(f"  dataset: {result.dataset_path}")
    if result.profile_path:
        console.print(f"  profile: {result.profile_path}")


def _model_progress() -> tuple[Progress, Callable[[str, int, int], None]]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def update(model: str, fold: int, folds: int) -> None:
        if model not in tasks:
            tasks[model] = progress.add_task(f"walk-forward {model}", total=folds)
        progress.update(tasks[model], completed=fold)

    return progress, update


def _metrics_table(metrics: pd.DataFrame, *, title: str, highlight: str | None) -> Table:
    columns = [
        ("qlike", "QLIKE", "{:.4f}"),
        ("rmse_vol", "RMSE vol", "{:.3e}"),
        ("mae_vol", "MAE vol", "{:.3e}"),
        ("r2_logvar", "R2 logvar", "{:.3f}"),
        ("mape", "MAPE", "{:.3f}"),
        ("directional_accuracy", "dir acc", "{:.3f}"),
        ("skill_vs_persistence", "skill/pers", "{:+.3f}"),
        ("skill_vs_garch", "skill/garch", "{:+.3f}"),
        ("dm_stat_vs_best_baseline", "DM stat", "{:+.2f}"),
        ("dm_pvalue_vs_best_baseline", "DM p", "{:.3f}"),
        ("seconds", "seconds", "{:.1f}"),
    ]
    table = Table(title=title)
    table.add_column("model")
    present = [c for c in columns if c[0] in metrics.columns]
    for _, label, _ in present:
        table.add_column(label, justify="right")
    for name, row in metrics.sort_values("qlike").iterrows():
        cells = [
            "-" if pd.isna(row[key]) else fmt.format(float(row[key])) for key, _, fmt in present
        ]
        style = "bold green" if name == highlight else None
        table.add_row(str(name), *cells, style=style)
    return table


def _print_table(table: Table) -> None:
    """Print a wide table at full width even when stdout is not a terminal (CI logs, pipes)."""
    console.print(table, soft_wrap=False)


def _check_output(output: Path) -> None:
    """Fail before a long backtest when ``--output`` cannot be written."""
    if output.is_dir() or not output.name or output.name in (".", ".."):
        raise ConfigError(f"--output {output} must be a file path, not a directory")
    parent = output.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--output {output}: {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK):
        raise ConfigError(f"--output {output}: {existing} is not writable")


def _backtest(params: Params, *, symbol: str, interval: str, output: Path | None) -> None:
    from volcast.pipeline import training
    from volcast.storage import storage_from_settings

    progress, update = _model_progress()
    with progress:
        result = training.run_backtest(
            storage=storage_from_settings(),
            symbol=symbol,
            interval=interval,
            params=params,
            progress=update,
        )
    n = result.predictions["timestamp"].nunique()
    _print_table(
        _metrics_table(
            result.metrics,
            title=f"walk-forward backtest {symbol} {interval}: {n} out-of-sample bars, "
            f"horizon {result.horizon}",
            highlight=result.selected,
        )
    )
    console.print(
        f"selected: [bold]{result.selected}[/] (best baseline: {result.best_baseline}), "
        f"{result.duration_seconds:.1f} s"
    )
    if output is not None:
        columns = ["timestamp", "forecast_variance", "realized_variance", "model"]
        frame = result.predictions[columns]
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp = output.with_name(f".{output.name}.tmp")
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
            tmp.replace(output)
        except OSError as exc:
            raise ConfigError(f"cannot write --output {output}: {exc}") from exc
        console.print(f"  predictions: {output.resolve()} ({len(frame)} rows)")


def _train(params: Params, *, symbol: str, interval: str) -> None:
    from volcast.config import get_settings
    from volcast.pipeline import training
    from volcast.storage import storage_from_settings

    progress, update = _model_progress()
    with progress:
        result = training.train(
            storage=storage_from_settings(),
            symbol=symbol,
            interval=interval,
            params=params,
            progress=update,
            tracking_uri=get_settings().tracking_uri(),
        )
    bt = result.backtest
    if bt is None:
        console.print(f"train {symbol} {interval}: skipped: {result.skip_reason}")
        return
    n = bt.predictions["timestamp"].nunique()
    _print_table(
        _metrics_table(
            bt.metrics,
            title=f"walk-forward backtest {symbol} {interval}: {n} out-of-sample bars",
            highlight=result.challenger,
        )
    )
    console.print(
        f"train {symbol} {interval}: challenger [bold]{result.challenger}[/] registered as "
        f"{result.model_name} v{result.version} (@challenger), run {result.run_id}"
    )
    console.print(f"  tracking: {get_settings().tracking_uri()}")


def _promote(params: Params, *, symbol: str, interval: str) -> bool:
    from volcast.config import get_settings
    from volcast.pipeline import training
    from volcast.storage import storage_from_settings

    decision, report = training.promote(
        storage=storage_from_settings(),
        symbol=symbol,
        interval=interval,
        params=params,
        tracking_uri=get_settings().tracking_uri(),
    )
    verdict = "[bold green]promoted[/]" if decision.promoted else "[bold yellow]rejected[/]"
    console.print(
        f"promote {decision.model_name} v{decision.challenger_version}: {verdict}: "
        f"{decision.reason}"
    )
    console.print(
        f"  champion: v{decision.champion_version}"
        if decision.champion_version
        else "  champion: none"
    )
    console.print(f"  report:   {report}")
    return decision.promoted


@app.command()
def ingest(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch new closed bars from a source, archive the raw payload, stage the increment."""

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        opts = SourceOptions(source, path, timestamp_column, timestamp_format, skip_rows)
        _ingest(params, opts, symbol=sym, interval=itv)

    _run(action)


@app.command()
def validate(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    max_staleness: StaleOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run the quality gate on staged + curated bars; merge them into curated bars if it passes."""

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        _validate(params, symbol=sym, interval=itv, max_staleness=_staleness(max_staleness))

    _run(action)


@app.command()
def features(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Build the feature + target dataset from the curated bars (and its profile report)."""

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        _features(params, symbol=sym, interval=itv)

    _run(action)


def _timed(stage: str, run: Callable[[], object], timings: dict[str, float]) -> None:
    """Run one stage and record its seconds in ``timings``."""
    started = time.perf_counter()
    run()
    timings[stage] = time.perf_counter() - started


def _prepare(
    params: Params,
    opts: SourceOptions,
    *,
    symbol: str,
    interval: str,
    max_staleness: str | None,
    timings: dict[str, float],
) -> None:
    """ingest -> validate -> features, recording each stage's seconds in ``timings``."""
    staleness = _staleness(max_staleness)
    _timed("ingest", lambda: _ingest(params, opts, symbol=symbol, interval=interval), timings)
    _timed(
        "validate",
        lambda: _validate(params, symbol=symbol, interval=interval, max_staleness=staleness),
        timings,
    )
    _timed("features", lambda: _features(params, symbol=symbol, interval=interval), timings)


@app.command()
def train(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Backtest every candidate, fit the best, log it to MLflow and register it as @challenger."""

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        _train(params, symbol=sym, interval=itv)

    _run(action)


@app.command()
def backtest(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    max_staleness: StaleOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Walk-forward backtest of every candidate; prints the metrics table.

    With --source/--path the data is ingested, gated and featurised first.
    """

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        if output is not None:
            _check_output(output)  # before any work: a bad path fails at once
        opts = SourceOptions(source, path, timestamp_column, timestamp_format, skip_rows)
        if opts.given:
            _prepare(
                params, opts, symbol=sym, interval=itv, max_staleness=max_staleness, timings={}
            )
        _backtest(params, symbol=sym, interval=itv, output=output)

    _run(action)


@app.command()
def promote(
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Promote @challenger to @champion if it beats the champion on the same recent window.

    Exits 9 when the challenger is rejected (the champion stays; the reason is recorded).
    """

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        if not _promote(params, symbol=sym, interval=itv):
            raise typer.Exit(code=REJECTED_EXIT_CODE)

    _run(action)


@app.command()
def pipeline(
    source: SourceOpt = None,
    path: PathOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    timestamp_column: TsColOpt = None,
    timestamp_format: TsFmtOpt = None,
    skip_rows: SkipOpt = None,
    max_staleness: StaleOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run every stage in order: ingest -> validate -> features -> train -> promote.

    Runs on the embedded synthetic sample by default. A rejected challenger is a normal
    outcome here (the champion stays), reported but not an error.
    """

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        timings: dict[str, float] = {}
        opts = SourceOptions(source, path, timestamp_column, timestamp_format, skip_rows)
        _prepare(
            params, opts, symbol=sym, interval=itv, max_staleness=max_staleness, timings=timings
        )
        _timed("train", lambda: _train(params, symbol=sym, interval=itv), timings)
        _timed("promote", lambda: _promote(params, symbol=sym, interval=itv), timings)
        console.print("stage times: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        data_dir = get_settings().data_dir
        where = data_dir if "://" in data_dir else str(Path(data_dir).resolve())
        console.print(f"outputs under {where}")

    _run(action)


app.command(name="serve")(serve_command)


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    app(prog_name="volcast")


if __name__ == "__main__":  # pragma: no cover
    main()
