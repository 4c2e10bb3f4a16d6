"""The one exception tree of volcast.

::

    VolcastError                    base; carries optional context (symbol, interval, ...)
    ├── ConfigError                 bad params.yaml / settings / CLI option
    ├── SourceError                 a market-data provider failed after retries
    │   └── RetryableSourceError    429 / 5xx / timeout: retried by the source, never escapes it
    ├── DataQualityError            the quality gate failed (names each failed check)
    │   ├── QualityGateError        ... with the full quality report attached
    │   └── ParseError              an input file is truncated or unparseable
    ├── StorageError                reading or writing the data store failed
    ├── NotFoundError               no stored data (bars, dataset, model) for the request
    ├── ConflictError               stored state moved under the operation (dataset changed)
    ├── BadRequestError             a well-formed request that cannot be answered as asked
    ├── ModelError                  fitting / predicting failed
    ├── ModelUnavailableError       no model is in service for the instrument (yet)
    ├── RegistryError               MLflow tracking or registry failure
    └── FeatureStoreError           Feast (materialisation, feature server) failed

Each class carries its CLI ``exit_code`` and its ``http_status``; the CLI and the API convert
an error to them only at their edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class VolcastError(Exception):
    """Base of every error volcast raises on purpose."""

    exit_code = 1
    http_status = 500

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
    http_status = 400


class SourceError(VolcastError):
    """A market-data source failed; names the provider, the symbol and the status."""

    exit_code = 4
    http_status = 502

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
    http_status = 422

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


class QualityGateError(DataQualityError):
    """The gate rejected the bars; ``report`` is the full quality report (a ``QualityReport``).

    The report supplies the message (``summary()``), the failed checks and the context.
    """

    def __init__(self, report: Any, *, report_path: str | None = None) -> None:
        super().__init__(
            report.summary(),
            failed_checks=report.failed,
            report_path=report_path,
            symbol=report.symbol,
            interval=report.interval,
            source=report.source,
        )
        self.report = report


class ParseError(DataQualityError):
    """An input file is truncated, malformed or otherwise unparseable."""


class StorageError(VolcastError):
    """Reading or writing the data store failed."""

    exit_code = 5
    http_status = 503


class NotFoundError(VolcastError):
    """Nothing stored for the requested symbol/interval (bars, dataset or model)."""

    exit_code = 6
    http_status = 404


class ConflictError(VolcastError):
    """Stored state changed under the operation (e.g. the dataset changed since training)."""

    exit_code = 10
    http_status = 409


class BadRequestError(VolcastError):
    """A request is well-formed but cannot be answered as asked (the API answers 400)."""

    exit_code = 2
    http_status = 400


class ModelError(VolcastError):
    """A model failed to fit or predict."""

    exit_code = 7
    http_status = 400


class ModelUnavailableError(VolcastError):
    """No model is in service for an instrument (not loaded yet, or none registered)."""

    exit_code = 7
    http_status = 503


class RegistryError(VolcastError):
    """The MLflow tracking server or model registry failed."""

    exit_code = 8
    http_status = 503


class FeatureStoreError(VolcastError):
    """The feature store failed: materialisation or the feature server (SPEC 17)."""

    exit_code = 11
    http_status = 503
