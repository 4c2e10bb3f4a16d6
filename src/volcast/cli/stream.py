"""``volcast stream``: the live loop of one series, or its replay from a file."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from volcast.cli.app import app
from volcast.cli.edge import command
from volcast.cli.options import (
    ConfigOpt,
    FileFormatOpt,
    IntervalOpt,
    Options,
    PathOpt,
    SkipOpt,
    SourceOpt,
    SymbolOpt,
    TsColOpt,
    TsFmtOpt,
    TzOpt,
)
from volcast.cli.output import console
from volcast.pipeline.run import SourceSpec

if TYPE_CHECKING:  # the monitoring package imports the modelling stack: seconds at start-up
    from volcast.monitoring.events import Event

ReplayOpt = Annotated[
    bool,
    typer.Option(
        "--replay", help="Play the file's bars newer than the last curated bar, then exit."
    ),
]
MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve the worker's Prometheus metrics on this port (0: any free port).",
    ),
]
SpeedOpt = Annotated[
    float,
    typer.Option("--speed", min=0.0, help="Replay clock: N times real time (0: no waiting)."),
]


def _print_event(event: Event) -> None:
    detail = ", ".join(f"{k}={v}" for k, v in event.detail.items() if v is not None)
    console.print(f"{event.time.isoformat()}  [bold]{event.event}[/]  {detail}")


@app.command()
@command()
def stream(
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
    replay: ReplayOpt = False,
    speed: SpeedOpt = 1.0,
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Run the live loop: each new bar is gated, forecast, realized and monitored.

    Drift or decay triggers a retrain and the usual promotion. Writes
    monitoring/<slug>/<interval>/{events.jsonl,forecasts.parquet} under the data directory.
    SIGTERM (or Ctrl-C) finishes the current bar and exits; a restart resumes where it stopped.
    """
    from volcast.pipeline.worker import stream_worker

    spec = SourceSpec(
        source, path, timestamp_column, timestamp_format, skip_rows, source_timezone, file_format
    )
    context = Options(config, symbol, interval, spec).context()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker = stream_worker(
            context, replay=replay, speed=speed, stop=stop, on_event=_print_event
        )
        if metrics_port is not None:
            from volcast.pipeline.stream_metrics import serve_metrics

            bound = serve_metrics(worker, port=metrics_port)
            console.print(f"metrics on http://0.0.0.0:{bound}/metrics")
        mode = "replaying" if replay else "streaming"
        console.print(f"{mode} {context.series} ({worker.store.log_path} in the data directory)")
        report = worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(
        f"stream {context.series}: {report.bars} bars processed, {report.rejected} rejected, "
        f"{report.source_errors} source errors, {report.retrains} retrains, "
        f"{report.promotions} promotions" + (" (stopped)" if stop.is_set() else "")
    )
