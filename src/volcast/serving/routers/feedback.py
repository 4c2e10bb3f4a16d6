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
    """Scores the forecast made at ``as_of`` with QLIKE and updates the rolling loss gauges.

    Idempotent per bar: a repeat is acknowledged (``duplicate``) and not counted again.
    """
    entry = service.resolve(request.symbol, request.interval)
    as_of = utc_timestamp(request.as_of, field="as_of")
    scored = service.feedback(entry, as_of, float(request.realized_variance))
    detail = None
    if scored.duplicate:
        detail = (
            f"duplicate: feedback for {entry.symbol} {entry.interval} at {as_of.isoformat()} "
            f"was already counted (realized variance {scored.realized!r}); not counted again"
        )
    return FeedbackResponse(
        symbol=entry.symbol,
        interval=entry.interval,
        as_of=as_of.to_pydatetime(),
        realized_variance=scored.realized,
        forecast_variance=scored.forecast,
        baseline_variance=scored.baseline,
        qlike=scored.loss,
        rolling_qlike=scored.rolling,
        duplicate=scored.duplicate,
        detail=detail,
    )
