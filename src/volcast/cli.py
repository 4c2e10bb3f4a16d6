"""The ``volcast`` command line: one short command per pipeline stage.

Every command reads ``params.yaml`` (or ``--config``), takes ``--symbol`` and ``--interval``
and converts :class:`volcast.errors.VolcastError` to a message on stderr and a non-zero exit
code; the logic lives in :mod:`volcast.pipeline.stages`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from volcast.config import Params, get_settings, load_params
from volcast.errors import ConfigError, DataQualityError, VolcastError

app = typer.Typer(
    name="volcast",
    help="Real-time volatility forecasting: ingest, gate, features, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
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


def _ingest(
    params: Params,
    *,
    source: str | None,
    path: Path | None,
    symbol: str,
    interval: str,
    timestamp_column: str | None,
    timestamp_format: str | None,
    skip_rows: int | None,
) -> None:
    from volcast.pipeline import stages
    from volcast.sources.registry import make_source
    from volcast.storage import storage_from_settings

    name = source or ("csv" if path is not None else params.data.source)
    src = make_source(
        name,
        settings=get_settings(),
        params=params,
        path=path,
        timestamp_column=timestamp_column,
        timestamp_format=timestamp_format,
        skip_rows=skip_rows,
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
        _ingest(
            params,
            source=source,
            path=path,
            symbol=sym,
            interval=itv,
            timestamp_column=timestamp_column,
            timestamp_format=timestamp_format,
            skip_rows=skip_rows,
        )

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
    """Run every stage in order: ingest -> validate -> features (on the sample by default)."""

    def action() -> None:
        params = _params(config)
        sym, itv = _resolve(params, symbol, interval)
        _ingest(
            params,
            source=source,
            path=path,
            symbol=sym,
            interval=itv,
            timestamp_column=timestamp_column,
            timestamp_format=timestamp_format,
            skip_rows=skip_rows,
        )
        _validate(params, symbol=sym, interval=itv, max_staleness=_staleness(max_staleness))
        _features(params, symbol=sym, interval=itv)
        console.print(
            f"data directory: {Path(get_settings().data_dir).resolve()}"
            if "://" not in get_settings().data_dir
            else f"data: {get_settings().data_dir}"
        )

    _run(action)


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    app(prog_name="volcast")


if __name__ == "__main__":  # pragma: no cover
    main()
