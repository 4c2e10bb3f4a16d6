"""The status page (``GET /``) and the JSON documents it shares with scripts (``/api/series``).

Handlers are plain functions (run in the thread pool): they read small files of the store.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from volcast.serving import status
from volcast.serving.deps import ServiceDep
from volcast.serving.entry import Entry
from volcast.serving.page import render_page
from volcast.serving.schemas import INTERVAL_PATTERN, SYMBOL_PATTERN, ErrorResponse
from volcast.serving.service import ForecastService
from volcast.serving.status_schemas import (
    ChampionCard,
    EventList,
    ForecastHistory,
    SeriesItem,
    SeriesList,
    SeriesStatus,
)

router = APIRouter(tags=["status"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown symbol or interval"}
}
SymbolPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=SYMBOL_PATTERN,
        description="The symbol or its slug (eurusd for EUR/USD)",
        examples=["eurusd"],
    ),
]
IntervalPath = Annotated[
    str, Path(max_length=16, pattern=INTERVAL_PATTERN, description="Bar interval", examples=["1h"])
]


def _entry(service: ForecastService, symbol: str, interval: str) -> Entry:
    return service.catalog.resolve(symbol, interval)


def series_items(service: ForecastService) -> list[SeriesItem]:
    """Every served series, by symbol and interval."""
    items = []
    for entry in sorted(service.entries.values(), key=lambda e: (e.symbol, e.interval)):
        base = f"/api/series/{entry.series.slug}/{entry.interval}"
        bars = entry.bars
        state = status.series_status(entry, service.catalog.monitor(entry.series))
        items.append(
            SeriesItem(
                symbol=entry.symbol,
                interval=entry.interval,
                slug=entry.series.slug,
                synthetic=bool(bars is not None and bars.synthetic),
                live=bool(bars is not None and bars.live),
                source=None if bars is None else bars.source,
                last_bar=None if bars is None else bars.last_timestamp.to_pydatetime(),
                model_version=None if entry.model is None else entry.model.version,
                status=state.status,
                links={
                    name: f"{base}/{name}" for name in ("forecasts", "events", "champion", "status")
                },
            )
        )
    return items


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The status page: forecasts, champion, drift and events of every series",
)
def page(
    service: ServiceDep,
    refresh: Annotated[int, Query(ge=1, le=3600, description="Seconds between updates")] = 10,
) -> HTMLResponse:
    """One HTML page, server-rendered, that updates itself from the JSON endpoints."""
    return HTMLResponse(render_page(service, series_items(service), refresh=refresh))


@router.get("/api/series", response_model=SeriesList, summary="The served series")
def list_series(service: ServiceDep) -> SeriesList:
    """Every served series with its overall status and the URLs of its documents."""
    return SeriesList(series=series_items(service))


@router.get(
    "/api/series/{symbol}/{interval}/forecasts",
    response_model=ForecastHistory,
    responses=NOT_FOUND,
    summary="Forecast vs realized volatility over the recent bars",
)
def forecasts(
    service: ServiceDep,
    symbol: SymbolPath,
    interval: IntervalPath,
    limit: Annotated[int, Query(ge=1, le=5000, description="Most recent bars")] = 500,
) -> ForecastHistory:
    """From the live loop's forecasts log, else the champion's out-of-sample backtest."""
    entry = _entry(service, symbol, interval)
    return status.forecast_history(service.catalog.storage, entry, limit=limit)


@router.get(
    "/api/series/{symbol}/{interval}/events",
    response_model=EventList,
    responses=NOT_FOUND,
    summary="The latest monitoring events (retrains, promotions, rejected bars)",
)
def events(
    service: ServiceDep,
    symbol: SymbolPath,
    interval: IntervalPath,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most recent events")] = 20,
) -> EventList:
    """Newest first; empty when no stream worker has run."""
    entry = _entry(service, symbol, interval)
    found = status.latest_events(service.catalog.storage, entry, limit=limit)
    return EventList(symbol=entry.symbol, interval=entry.interval, events=found)


@router.get(
    "/api/series/{symbol}/{interval}/champion",
    response_model=ChampionCard,
    responses={
        **NOT_FOUND,
        503: {"model": ErrorResponse, "description": "No model in service for the series"},
    },
    summary="The champion in service and its promotion record",
)
def champion(service: ServiceDep, symbol: SymbolPath, interval: IntervalPath) -> ChampionCard:
    """Version, kind, when and why it was promoted, its QLIKE against the baselines."""
    return status.champion_card(_entry(service, symbol, interval))


@router.get(
    "/api/series/{symbol}/{interval}/status",
    response_model=SeriesStatus,
    responses=NOT_FOUND,
    summary="Drift, OOD ratio, data freshness and realized loss, with status colours",
)
def series_status(service: ServiceDep, symbol: SymbolPath, interval: IntervalPath) -> SeriesStatus:
    """ok / warn / alert / info per indicator, and the worst of them."""
    entry = _entry(service, symbol, interval)
    return status.series_status(entry, service.catalog.monitor(entry.series))
