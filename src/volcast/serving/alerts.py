"""Alertmanager's webhook into volcast: firing alerts that ask for a retrain become requests.

Alertmanager POSTs its webhook document (``version: "4"``: ``status``, ``receiver``,
``groupKey`` and ``alerts``, each with ``status``, ``labels``, ``annotations``,
``startsAt``, ``fingerprint``). Every *firing* alert labelled ``action="retrain"`` with
``symbol`` and ``interval`` labels of a served series becomes a
:class:`~volcast.monitoring.requests.RetrainRequest`, stored under the series'
``monitoring/<slug>/<interval>/requests/`` for its stream worker, which feeds it to its
retrain trigger (cooldown and de-duplication included). Everything else is acknowledged
and listed as ignored, with the reason: Alertmanager retries on errors, and an alert that
cannot ask for a retrain would not do better on the next try.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from volcast.errors import VolcastError
from volcast.monitoring.requests import RetrainRequest
from volcast.serving.catalog import Catalog
from volcast.storage import Storage

RETRAIN_ACTION = "retrain"
"""The value of the ``action`` label that asks for a retrain."""


class AlertmanagerAlert(BaseModel):
    """One alert of Alertmanager's webhook document."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    status: str = Field(description="firing or resolved")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt", description="RFC 3339 time string")
    fingerprint: str = Field(default="", max_length=200)

    @field_validator("starts_at", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if not isinstance(value, str | datetime):  # pydantic would read 0 as 1970
            raise ValueError("startsAt must be an RFC 3339 time string")
        return value


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook document (``version`` 4)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str = "4"
    status: str = Field(default="firing", description="firing or resolved")
    receiver: str = ""
    group_key: str = Field(default="", alias="groupKey")
    alerts: list[AlertmanagerAlert] = Field(max_length=1000)


class IgnoredAlert(BaseModel):
    """An alert that asked for nothing, and why."""

    alertname: str
    reason: str


class WebhookResponse(BaseModel):
    """What the webhook did with each alert."""

    requested: list[str] = Field(description="'<symbol> <interval>' of each retrain requested")
    duplicates: list[str] = Field(description="Requests already stored (a re-sent alert)")
    ignored: list[IgnoredAlert]


def take_alerts(
    payload: AlertmanagerWebhook, *, catalog: Catalog, storage: Storage
) -> WebhookResponse:
    """Store a retrain request for every firing ``action="retrain"`` alert of a served series."""
    requested: list[str] = []
    duplicates: list[str] = []
    ignored: list[IgnoredAlert] = []
    for alert in payload.alerts:
        name = alert.labels.get("alertname", "")
        why = _why_not(alert)
        if why is None:
            try:
                entry = catalog.resolve(alert.labels["symbol"], alert.labels["interval"])
            except VolcastError as exc:
                why = f"not a served series: {exc.message}"
        if why is not None:
            ignored.append(IgnoredAlert(alertname=name, reason=why))
            continue
        request = RetrainRequest(
            symbol=entry.symbol,
            interval=entry.interval,
            alertname=name,
            fingerprint=alert.fingerprint,
            starts_at=_utc(alert.starts_at),
            summary=alert.annotations.get("summary", "")[:500],
        )
        path = f"{entry.series.layout.monitoring_requests}/{request.name}.json"
        label = f"{entry.symbol} {entry.interval}"
        if storage.exists(path):
            duplicates.append(label)
            continue
        storage.write_json(path, request.to_dict())
        requested.append(label)
    return WebhookResponse(requested=requested, duplicates=duplicates, ignored=ignored)


def _why_not(alert: AlertmanagerAlert) -> str | None:
    """Why ``alert`` cannot ask for a retrain (None when it can)."""
    if alert.status != "firing":
        return f"status is {alert.status!r}, not 'firing'"
    if alert.labels.get("action") != RETRAIN_ACTION:
        return f"no label action={RETRAIN_ACTION!r}"
    missing = [k for k in ("symbol", "interval") if not alert.labels.get(k)]
    if missing:
        return f"missing label(s) {', '.join(missing)}"
    return None


def _utc(stamp: Any) -> pd.Timestamp:
    value = pd.Timestamp(stamp)
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
