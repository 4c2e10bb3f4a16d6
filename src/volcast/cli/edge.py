"""The one place where errors become exit codes, and where library logs are routed.

:func:`command` wraps every command: inside it library logs go to the log file (see
:mod:`volcast.cli.logs`), and a :class:`~volcast.errors.VolcastError` becomes a message on
stderr and the error's ``exit_code`` (README's table). A failed quality gate lists each
failed check and the report path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from volcast.cli.logs import library_logs
from volcast.cli.output import err_console
from volcast.errors import DataQualityError, QualityGateError, VolcastError

REJECTED_EXIT_CODE = 9
"""``volcast promote`` exit code when the challenger is rejected."""

P = ParamSpec("P")
R = TypeVar("R")


def report_error(exc: VolcastError) -> typer.Exit:
    """Print ``exc`` for a person and return the exit carrying its code."""
    if isinstance(exc, QualityGateError):  # the message names each failed check, one a line
        head, _, details = exc.message.partition("\n")
        err_console.print(f"[bold red]{head}[/]")
        if details:
            err_console.print(details, highlight=False)
    elif isinstance(exc, DataQualityError):
        err_console.print(f"[bold red]quality gate failed[/]: {exc.message}")
        for name in exc.failed_checks:
            err_console.print(f"  [red]x[/] {name}")
    else:
        err_console.print(f"[bold red]error[/]: {exc}")
    if isinstance(exc, DataQualityError) and exc.report_path:
        err_console.print(f"report: {exc.report_path}")
    return typer.Exit(code=exc.exit_code)


class GlobalFlags:
    """The app-wide flags, set by the app's callback before every command."""

    verbose: bool = False


def command(*, route_logs: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command: library logs to the log file, VolcastError -> exit code."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                if not route_logs:
                    return func(*args, **kwargs)
                with library_logs(verbose=GlobalFlags.verbose):
                    return func(*args, **kwargs)
            except VolcastError as exc:
                raise report_error(exc) from exc

        return wrapper

    return decorate
