"""Forecasts: by symbol from the latest stored bars, or from explicit features; batches."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from volcast.serving.deps import ServiceDep
from volcast.serving.forecast import Forecast, ForecastRequest
from volcast.serving.routers.common import ERRORS, model_ref
from volcast.serving.schemas import (
    Baseline,
    BatchRequest,
    BatchResponse,
    DriftFlags,
    PredictRequest,
    PredictResponse,
)

router = APIRouter(tags=["predict"])


def _request(request: PredictRequest) -> ForecastRequest:
    return ForecastRequest(
        symbol=request.symbol,
        interval=request.interval,
        features=request.features,
        as_of=request.as_of,
    )


def _response(forecast: Forecast) -> PredictResponse:
    base = forecast.baseline
    return PredictResponse(
        symbol=forecast.series.symbol,
        interval=forecast.series.interval,
        as_of=forecast.as_of.to_pydatetime(),
        target_time=forecast.target_time.to_pydatetime(),
        horizon=forecast.horizon,
        variance=forecast.forecast.variance,
        volatility=forecast.forecast.volatility,
        annualized_volatility=forecast.forecast.annualized_volatility,
        model=model_ref(forecast.model),
        baseline=(
            None
            if base is None
            else Baseline(
                variance=base.variance,
                volatility=base.volatility,
                annualized_volatility=base.annualized_volatility,
            )
        ),
        drift=DriftFlags(
            detected=forecast.drift.detected,
            ood_ratio=forecast.drift.ood_ratio,
            drifted_features=forecast.drift.drifted_features,
            window=forecast.drift.window,
        ),
        input=forecast.input,
        synthetic=forecast.synthetic,
    )


@router.post(
    "/predict",
    response_model=PredictResponse,
    summary="Forecast next-bar variance and volatility",
    responses=ERRORS,
)
async def predict(request: PredictRequest, service: ServiceDep) -> PredictResponse:
    """By symbol from the latest stored bars (omit ``features``), or from explicit features."""
    if service.feast is not None:  # online features: an HTTP read, off the event loop
        return _response(await asyncio.to_thread(service.forecast, _request(request)))
    return _response(service.forecast(_request(request)))


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    summary="Several forecasts in one call (bounded size)",
    responses=ERRORS,
)
async def predict_batch(batch: BatchRequest, service: ServiceDep) -> BatchResponse:
    """Answers every item in order; the first bad item fails the batch and is named."""
    requests = [_request(item) for item in batch.items]
    if service.feast is not None:  # online features: HTTP reads, off the event loop
        forecasts = await asyncio.to_thread(service.forecast_many, requests)
    else:
        forecasts = service.forecast_many(requests)
    return BatchResponse(items=[_response(forecast) for forecast in forecasts])
