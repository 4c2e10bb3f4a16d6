"""Realized outcomes of past forecasts (rolling QLIKE)."""

from __future__ import annotations

from fastapi import APIRouter

from volcast.serving.deps import ServiceDep
from volcast.serving.routers.common import ERRORS, utc_timestamp
from volcast.serving.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    summary="Report the realized variance of a forecast bar",
    responses=ERRORS,
)
async def feedback(request: FeedbackRequest, service: ServiceDep) -> FeedbackResponse:
    """Scores the forecast made at ``as_of`` with QLIKE and updates the rolling loss gauges."""
    entry = service.resolve(request.symbol, request.interval)
    as_of = utc_timestamp(request.as_of, field="as_of")
    forecast, baseline, loss, rolling = service.feedback(
        entry, as_of, float(request.realized_variance)
    )
    return FeedbackResponse(
        symbol=entry.symbol,
        interval=entry.interval,
        as_of=as_of.to_pydatetime(),
        realized_variance=float(request.realized_variance),
        forecast_variance=forecast,
        baseline_variance=baseline,
        qlike=loss,
        rolling_qlike=rolling,
    )
