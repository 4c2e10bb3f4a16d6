"""``volcast serve``: the forecast API under uvicorn, with one or more worker processes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from volcast.cli.app import app
from volcast.cli.edge import command

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Set here, not imported from metrics: prometheus_client must not load before it is set."""


def prepare_multiprocess_dir(workers: int) -> str | None:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory when several workers run.

    Must run before any worker imports ``prometheus_client``. A directory set by the caller
    is emptied (stale files of an earlier run would be counted); otherwise a fresh temporary
    one is made. With one worker and no directory set, metrics stay in-process.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        target = Path(path)
        if target.exists():
            for child in target.glob("*.db"):
                child.unlink()
        target.mkdir(parents=True, exist_ok=True)
        return str(target)
    if workers <= 1:
        return None
    fresh = tempfile.mkdtemp(prefix="volcast-metrics-")
    os.environ[MULTIPROC_ENV] = fresh
    return fresh


@app.command()
@command(route_logs=False)  # uvicorn's logs are the server's output: they stay on the terminal
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve next-bar volatility forecasts of the registry's @champion models over HTTP.

    Reads the bars under VOLCAST_DATA_DIR and the models of MLFLOW_TRACKING_URI; tunables are
    VOLCAST_SERVE_* (see docs/api.md). With several workers, Prometheus metrics are merged
    through PROMETHEUS_MULTIPROC_DIR.
    """
    import uvicorn

    given = os.environ.get(MULTIPROC_ENV)
    path = prepare_multiprocess_dir(workers)
    try:
        uvicorn.run(
            "volcast.serving.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
        )
    finally:
        if path is not None and not given:
            shutil.rmtree(path, ignore_errors=True)
