"""The ``volcast`` command line (``volcast = "volcast.cli:app"``, also ``python -m volcast``).

Modules: :mod:`~volcast.cli.app` (the Typer app, its global ``--verbose`` flag and the data
commands), :mod:`~volcast.cli.models` (model commands and ``pipeline``),
:mod:`~volcast.cli.serve`, :mod:`~volcast.cli.compare` (the CI comparison),
:mod:`~volcast.cli.options` (the one shared option set),
:mod:`~volcast.cli.edge` (errors -> exit codes), :mod:`~volcast.cli.logs` (library logs to a
file) and :mod:`~volcast.cli.output` (what the commands print). Commands parse, call
:mod:`volcast.pipeline.run` and print; they hold no logic of their own.
"""

from volcast.cli import compare, models, news, report, serve, stream  # register their commands
from volcast.cli.app import app, main
from volcast.cli.edge import REJECTED_EXIT_CODE

__all__ = [
    "REJECTED_EXIT_CODE",
    "app",
    "compare",
    "main",
    "models",
    "news",
    "report",
    "serve",
    "stream",
]
