"""Keeping API keys out of logs: URL redaction and a filter for httpx's request log lines."""

from __future__ import annotations

import logging

import httpx

SECRET_QUERY_PARAMS = frozenset({"apikey", "api_key", "token", "access_token"})
"""Query parameters whose values never appear in logs or error messages."""

_REDACTED = "REDACTED"


def redact_url(url: httpx.URL | str) -> str:
    """``url`` with the values of :data:`SECRET_QUERY_PARAMS` replaced by ``REDACTED``."""
    parsed = httpx.URL(str(url))
    if not any(k.lower() in SECRET_QUERY_PARAMS for k in parsed.params):
        return str(parsed)
    params = [
        (k, _REDACTED if k.lower() in SECRET_QUERY_PARAMS else v)
        for k, v in parsed.params.multi_items()
    ]
    return str(parsed.copy_with(params=params))


class _RedactHttpxLog(logging.Filter):
    """Rewrites the URL argument of httpx's ``HTTP Request: ...`` log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def install_log_redaction() -> None:
    """Attach the key-redacting filter to the ``httpx`` logger (idempotent)."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxLog) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxLog())
