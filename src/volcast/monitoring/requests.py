"""Retrain requests from outside the loop: an alert (Alertmanager's webhook) asking for one.

The API turns a firing alert labelled ``action="retrain"`` into a :class:`RetrainRequest`
stored under ``monitoring/<slug>/<interval>/requests/<name>.json``; the stream worker of the
series picks it up at its next bar and feeds it to the same
:class:`~volcast.monitoring.trigger.RetrainTrigger` as its own detectors, as the forcing
signal ``alert``: so the cooldown and the de-duplication of the loop hold for alerts too.

:attr:`RetrainRequest.name` is built from the alert's fingerprint and start time, so
Alertmanager re-sending the same firing alert (every ``repeat_interval``, or after a
failed delivery) names the same request and is stored once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from volcast.errors import ConfigError

ALERT_SIGNAL: Final = "alert"
"""The trigger signal of a request (forcing: one is enough, no k-of-n)."""

_SAFE: Final = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RetrainRequest:
    """One alert asking for a retrain of the series ``symbol``/``interval``."""

    symbol: str
    interval: str
    alertname: str
    fingerprint: str
    starts_at: pd.Timestamp
    summary: str = ""

    @property
    def name(self) -> str:
        """A file-safe name, the same for every delivery of the same firing alert."""
        stamp = pd.Timestamp(self.starts_at).tz_convert("UTC").strftime("%Y%m%dT%H%M%SZ")
        key = (
            _SAFE.sub("-", self.fingerprint)[:40]
            or hashlib.sha256(
                f"{self.alertname}|{self.symbol}|{self.interval}".encode()
            ).hexdigest()[:16]
        )
        return f"{stamp}-{key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "alertname": self.alertname,
            "fingerprint": self.fingerprint,
            "starts_at": pd.Timestamp(self.starts_at).tz_convert("UTC").isoformat(),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> RetrainRequest:
        """Read a stored request; ConfigError names what is missing."""
        try:
            starts = pd.Timestamp(document["starts_at"])
            return cls(
                symbol=str(document["symbol"]),
                interval=str(document["interval"]),
                alertname=str(document["alertname"]),
                fingerprint=str(document["fingerprint"]),
                starts_at=starts.tz_localize("UTC") if starts.tzinfo is None else starts,
                summary=str(document.get("summary", "")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"not a retrain request ({exc!r}): {dict(document)}") from exc
