"""Realized outcomes of past forecasts (rolling QLIKE)."""

from __future__ import annotations

from fastapi import APIRouter

from volcast.serving import forecast
from volcast.serving.deps import ServiceDep
from volcast.serving.routers.common import ERRORS
from volcast.serving.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    summary="Report the realized variance of a forecast bar",
    responses=ERRORS,
)
async def feedback(request: FeedbackRequest, service: ServiceDep) -> FeedbackResponse:
    """Scores the forecast made at ``as_of`` with QLIKE and updates the rolling loss gauges.

    Idempotent per bar: a repeat is acknowledged (``duplicate``) and not counted again.
    """
    outcome = service.feedback(
        forecast.FeedbackRequest(
            symbol=request.symbol,
            interval=request.interval,
            as_of=request.as_of,
            realized_variance=request.realized_variance,
        )
    )
    scored = outcome.scored
    return FeedbackResponse(
        symbol=outcome.series.symbol,
        interval=outcome.series.interval,
        as_of=outcome.as_of.to_pydatetime(),
        realized_variance=scored.realized,
        forecast_variance=scored.forecast,
        baseline_variance=scored.baseline,
        qlike=scored.loss,
        rolling_qlike=scored.rolling,
        duplicate=scored.duplicate,
        counted=scored.counted and not scored.duplicate,
        detail=outcome.detail,
    )
