"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

import time

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
    state = service.readiness()
    if not state.servable:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status=state.status,
        reasons=state.reasons,
        registry_reachable=state.registry_reachable,
        instruments=[
            InstrumentStatus(
                symbol=item.symbol,
                interval=item.interval,
                model=model_ref(item.model) if item.model is not None else None,
                model_error=item.model_error,
                last_bar=item.last_bar.to_pydatetime() if item.last_bar is not None else None,
                data_age_seconds=item.data_age_seconds,
                stale=item.stale,
                synthetic=item.synthetic,
                forecast_ready=item.forecast_ready,
            )
            for item in state.series
        ],
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
