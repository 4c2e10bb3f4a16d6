"""The one exception tree of volcast.

::

    VolcastError                    base; carries optional context (symbol, interval, ...)
    ├── ConfigError                 bad params.yaml / settings / CLI option
    ├── SourceError                 a market-data provider failed after retries
    │   └── RetryableSourceError    429 / 5xx / timeout: retried by the source, never escapes it
    ├── DataQualityError            the quality gate failed (names each failed check)
    │   └── ParseError              an input file is truncated or unparseable
    ├── StorageError                reading or writing the data store failed
    ├── NotFoundError               no stored data (bars, dataset, model) for the request
    ├── ModelError                  fitting / predicting failed
    └── RegistryError               MLflow tracking or registry failure

Errors are converted to an exit code (CLI) or an HTTP status (API) only at the edge; see
``EXIT_CODES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class VolcastError(Exception):
    """Base of every error volcast raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        if not self.context:
            return self.message
        ctx = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.message} ({ctx})"


class ConfigError(VolcastError):
    """Invalid configuration, parameters or command-line options."""

    exit_code = 2


class SourceError(VolcastError):
    """A market-data source failed; names the provider, the symbol and the status."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        symbol: str | None = None,
        status: int | str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, provider=provider, symbol=symbol, status=status, **context)
        self.provider = provider
        self.symbol = symbol
        self.status = status


class RetryableSourceError(SourceError):
    """A transient provider failure (429, 5xx, timeout) that the source retries.

    ``retry_after`` is the provider's Retry-After in seconds when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        symbol: str | None = None,
        status: int | str | None = None,
        retry_after: float | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, provider=provider, symbol=symbol, status=status, **context)
        self.retry_after = retry_after


class DataQualityError(VolcastError):
    """The quality gate rejected the data; ``failed_checks`` names every failed check."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        failed_checks: Sequence[str] = (),
        report_path: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, report_path=report_path, **context)
        self.failed_checks = list(failed_checks)
        self.report_path = report_path


class ParseError(DataQualityError):
    """An input file is truncated, malformed or otherwise unparseable."""


class StorageError(VolcastError):
    """Reading or writing the data store failed."""

    exit_code = 5


class NotFoundError(VolcastError):
    """Nothing stored for the requested symbol/interval (bars, dataset or model)."""

    exit_code = 6


class ModelError(VolcastError):
    """A model failed to fit or predict."""

    exit_code = 7


class RegistryError(VolcastError):
    """The MLflow tracking server or model registry failed."""

    exit_code = 8


EXIT_CODES: dict[type[VolcastError], int] = {
    cls: cls.exit_code
    for cls in (
        VolcastError,
        ConfigError,
        SourceError,
        DataQualityError,
        StorageError,
        NotFoundError,
        ModelError,
        RegistryError,
    )
}
