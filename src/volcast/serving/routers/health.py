"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

import time

import pandas as pd
from fastapi import APIRouter, Response, status

from volcast.serving import metrics
from volcast.serving.deps import ServiceDep
from volcast.serving.routers.common import model_ref
from volcast.serving.schemas import Health, InstrumentStatus, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health(service: ServiceDep) -> Health:
    """Always 200 while the process runs, whatever the model or data state."""
    return Health(uptime_seconds=time.time() - service.started_at)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: a model is loaded and data can be forecast",
    responses={503: {"model": Readiness, "description": "No instrument can be forecast"}},
)
async def ready(service: ServiceDep, response: Response) -> Readiness:
    """200 ``ready`` (or ``degraded`` with reasons, e.g. registry down) or 503 ``unavailable``."""
    servable, reasons = service.readiness()
    now = pd.Timestamp.now(tz="UTC")
    instruments = []
    for entry in sorted(service.entries.values(), key=lambda e: (e.symbol, e.interval)):
        last = entry.bars.last_timestamp if entry.bars is not None else None
        instruments.append(
            InstrumentStatus(
                symbol=entry.symbol,
                interval=entry.interval,
                model=model_ref(entry.model) if entry.model is not None else None,
                model_error=entry.model_error,
                last_bar=last.to_pydatetime() if last is not None else None,
                data_age_seconds=(now - last).total_seconds() if last is not None else None,
                stale=service.is_stale(entry),
                synthetic=entry.bars.synthetic if entry.bars is not None else False,
                forecast_ready=entry.forecast is not None,
            )
        )
    if not servable:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    state = "unavailable" if not servable else ("degraded" if reasons else "ready")
    return Readiness(
        status=state,
        reasons=reasons,
        registry_reachable=service.registry_ok,
        instruments=instruments,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (merged over workers)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Exposition format"}},
)
async def prometheus_metrics() -> Response:
    """The Prometheus text exposition format."""
    return Response(content=metrics.render(), media_type=metrics.CONTENT_TYPE)
