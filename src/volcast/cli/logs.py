"""Library logs off the terminal: MLflow, alembic and Python warnings go to a log file.

The terminal shows volcast's own progress and results. Everything libraries say (their
``logging`` records, ``warnings``, and text they print to stdout/stderr themselves, like
MLflow's "Successfully registered model") is written to ``<data dir>/logs/volcast.log``; with
``volcast --verbose`` it is shown on stderr as well. When the data directory is not local
(``s3://``), the file is ``<temp dir>/volcast/logs/volcast.log`` and the command says so.

MLflow attaches its own stderr handler to its loggers when it is imported unless
``MLFLOW_CONFIGURE_LOGGING`` is false; it is set to false for the command (when MLflow is not
imported yet) so its records reach the root logger and this file like any other library's.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from volcast.cli.output import console, err_console
from volcast.config import get_settings

LOG_NAME = "volcast.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MLFLOW_LOGGING_ENV = "MLFLOW_CONFIGURE_LOGGING"

current: Path | None = None
"""The log file of the command running now (None outside a command)."""


def log_path(data_dir: str) -> tuple[Path, bool]:
    """The log file for ``data_dir`` and whether it is the local fallback (remote data dir)."""
    if "://" in data_dir and not data_dir.startswith("file://"):
        return Path(tempfile.gettempdir()) / "volcast" / "logs" / LOG_NAME, True
    return Path(data_dir.removeprefix("file://")).resolve() / "logs" / LOG_NAME, False


class _StreamToLog:
    """A text stream whose lines become log records (for libraries that print)."""

    def __init__(self, logger: logging.Logger, fallback: TextIO) -> None:
        self._logger = logger
        self._fallback = fallback
        self._buffer = ""
        self._busy = threading.local()

    def write(self, text: str) -> int:
        if getattr(self._busy, "on", False):  # a handler failing and reporting it: no loop
            return self._fallback.write(text)
        self._busy.on = True
        try:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
            for line in lines:
                if line.strip():
                    self._logger.info(line.rstrip())
        finally:
            self._busy.on = False
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            text, self._buffer = self._buffer, ""
            self.write(text + "\n")

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


@contextmanager
def library_logs(*, verbose: bool) -> Iterator[Path]:
    """Route library output to the log file (and to stderr when ``verbose``) for one command.

    Yields the log file's path. Everything is restored on exit, so in-process callers (tests)
    see no lasting change.
    """
    real_out, real_err = sys.stdout, sys.stderr
    path, fallback = log_path(get_settings().data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        path, fallback = Path(tempfile.gettempdir()) / "volcast" / "logs" / LOG_NAME, True
        path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if verbose:
        terminal = logging.StreamHandler(real_err)
        terminal.setFormatter(logging.Formatter(FORMAT))
        handlers.append(terminal)
    root = logging.getLogger()
    saved_level = root.level
    set_env = "mlflow" not in sys.modules and _MLFLOW_LOGGING_ENV not in os.environ
    if set_env:
        os.environ[_MLFLOW_LOGGING_ENV] = "false"
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # Our consoles keep writing to the real streams; everything else that prints is logged.
    console.file, err_console.file = real_out, real_err
    sys.stdout = _StreamToLog(logging.getLogger("stdout"), real_out)
    sys.stderr = _StreamToLog(logging.getLogger("stderr"), real_err)
    global current
    current = path
    if fallback:
        err_console.print(f"[dim]library logs: {path} (the data directory is not local)[/]")
    try:
        yield path
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _StreamToLog):
                stream.flush()
        sys.stdout, sys.stderr = real_out, real_err
        current = None
        console.file = err_console.file = None  # type: ignore[assignment]
        logging.captureWarnings(False)
        root.setLevel(saved_level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        if set_env:
            os.environ.pop(_MLFLOW_LOGGING_ENV, None)
