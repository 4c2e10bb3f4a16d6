"""Online reads from the Feast feature server (``feast serve``) over HTTP.

One ``POST /get-online-features`` per read on a kept-alive :class:`httpx.Client`, no retries
(the request path waits at most ``timeout``); any failure, the server down or its online store
(Redis) down, is a :class:`~volcast.errors.FeatureStoreError` with the reason, so the caller
can fall back to computing the features from bars and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from volcast.errors import FeatureStoreError
from volcast.featurestore.tables import ENTITY, entity_key, view_name
from volcast.series import Series


@dataclass(frozen=True)
class OnlineRow:
    """The online feature row of one series: its bar (None when absent) and its values."""

    event_time: pd.Timestamp | None
    values: dict[str, float | None]


class OnlineClient:
    """A client of one Feast feature server."""

    def __init__(self, url: str, *, timeout: float, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport, trust_env=False
        )

    def close(self) -> None:
        self._client.close()

    def read(self, series: Series, features: list[str]) -> OnlineRow:
        """The online row of ``series`` for ``features`` (FeatureStoreError on any failure)."""
        view = view_name(series)
        body = {
            "features": [f"{view}:{name}" for name in features],
            "entities": {ENTITY: [entity_key(series)]},
        }
        context = {"symbol": series.symbol, "interval": series.interval}
        try:
            response = self._client.post("/get-online-features", json=body)
        except httpx.HTTPError as exc:
            raise FeatureStoreError(
                f"feature server {self.url} unreachable: {type(exc).__name__}: {exc}", **context
            ) from exc
        if response.status_code != 200:
            raise FeatureStoreError(
                f"feature server {self.url} answered {response.status_code}: {response.text[:300]}",
                **context,
            )
        try:
            return parse_response(response.json(), features)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise FeatureStoreError(
                f"feature server {self.url} sent an unreadable answer: {exc}", **context
            ) from exc


def parse_response(doc: dict[str, Any], features: list[str]) -> OnlineRow:
    """The row of the first entity in a ``/get-online-features`` answer (pure)."""
    names = [name.split("__", 1)[-1].split(":", 1)[-1] for name in doc["metadata"]["feature_names"]]
    values: dict[str, float | None] = {}
    stamps: list[pd.Timestamp] = []
    for name, result in zip(names, doc["results"], strict=True):
        if name not in features:
            continue  # the entity key column
        status = result["statuses"][0]
        value = result["values"][0]
        if status != "PRESENT" or value is None:
            values[name] = None
            continue
        values[name] = float(value) if not isinstance(value, str) else math.nan
        stamps.append(pd.Timestamp(result["event_timestamps"][0]).tz_convert("UTC"))
    missing = [name for name in features if name not in values]
    if missing:
        raise KeyError(f"features {missing[:5]} not in the answer")
    return OnlineRow(event_time=max(stamps) if stamps else None, values=values)
