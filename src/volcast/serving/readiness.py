"""Readiness: can the service forecast, and what is degraded (no model, stale data, registry)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from volcast.registry.served import ServedModel
from volcast.schemas import interval_timedelta
from volcast.serving.entry import Entry


@dataclass(frozen=True)
class SeriesStatus:
    """The served state of one series."""

    symbol: str
    interval: str
    model: ServedModel | None
    model_error: str | None
    last_bar: pd.Timestamp | None
    data_age_seconds: float | None
    stale: bool
    synthetic: bool
    forecast_ready: bool


@dataclass(frozen=True)
class Readiness:
    """``ready`` (no reason), ``degraded`` (reasons) or ``unavailable`` (nothing servable)."""

    status: Literal["ready", "degraded", "unavailable"]
    reasons: list[str]
    registry_reachable: bool | None
    series: list[SeriesStatus]

    @property
    def servable(self) -> bool:
        return self.status != "unavailable"


def is_stale(entry: Entry, *, max_staleness_bars: float) -> bool:
    """Live data whose last bar is older than ``max_staleness_bars`` intervals."""
    if entry.bars is None or not entry.bars.live:
        return False
    age = pd.Timestamp.now(tz="UTC") - entry.bars.last_timestamp
    return bool(age > interval_timedelta(entry.interval) * max_staleness_bars)


def readiness(
    entries: Iterable[Entry],
    *,
    max_staleness_bars: float,
    registry_ok: bool | None,
    registry_error: str | None,
) -> Readiness:
    """Whether at least one series can be forecast, every degradation found, each series."""
    ordered = sorted(entries, key=lambda e: (e.symbol, e.interval))
    reasons: list[str] = []
    servable = 0
    if not ordered:
        reasons.append("no curated bars in the data store; run `volcast pipeline` first")
    now = pd.Timestamp.now(tz="UTC")
    statuses = []
    for entry in ordered:
        if entry.model is None:
            reasons.append(f"{entry.series}: no model ({entry.model_error or 'not loaded yet'})")
        elif entry.forecast is None:
            reasons.append(f"{entry.series}: cannot forecast ({entry.forecast_error})")
        else:
            servable += 1
        stale = is_stale(entry, max_staleness_bars=max_staleness_bars)
        last = entry.bars.last_timestamp if entry.bars is not None else None
        if stale:
            reasons.append(f"{entry.series}: data stale (last bar {last})")
        statuses.append(
            SeriesStatus(
                symbol=entry.symbol,
                interval=entry.interval,
                model=entry.model,
                model_error=entry.model_error,
                last_bar=last,
                data_age_seconds=(now - last).total_seconds() if last is not None else None,
                stale=stale,
                synthetic=entry.bars.synthetic if entry.bars is not None else False,
                forecast_ready=entry.forecast is not None,
            )
        )
    if registry_ok is False:
        reasons.append(
            f"model registry unreachable, serving the last good models: {registry_error}"
        )
    status: Literal["ready", "degraded", "unavailable"] = (
        "unavailable" if not servable else ("degraded" if reasons else "ready")
    )
    return Readiness(status, reasons, registry_ok, statuses)
