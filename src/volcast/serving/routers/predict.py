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
    ModelRef,
    PredictRequest,
    PredictResponse,
    TargetPredictResponse,
)
from volcast.serving.targets import TargetForecast

router = APIRouter(tags=["predict"])


def _request(request: PredictRequest) -> ForecastRequest:
    return ForecastRequest(
        symbol=request.symbol,
        interval=request.interval,
        features=request.features,
        as_of=request.as_of,
        target=request.target,
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


def _target_response(forecast: TargetForecast) -> TargetPredictResponse:
    model = forecast.model
    direction = forecast.kind == "direction"
    return TargetPredictResponse(
        symbol=forecast.series.symbol,
        interval=forecast.series.interval,
        target="direction" if direction else "return",
        as_of=forecast.as_of.to_pydatetime(),
        target_time=forecast.target_time.to_pydatetime(),
        probability_up=forecast.value if direction else None,
        forecast_return=None if direction else forecast.value,
        close=forecast.close,
        implied_close=None if direction else forecast.implied_close,
        model=ModelRef(
            name=model.name, version=model.version, alias=model.alias, run_id=model.run_id
        ),
        synthetic=forecast.synthetic,
    )


@router.post(
    "/predict",
    response_model=PredictResponse | TargetPredictResponse,
    summary="Forecast next-bar variance and volatility (or return, or direction)",
    responses=ERRORS,
)
async def predict(
    request: PredictRequest, service: ServiceDep
) -> PredictResponse | TargetPredictResponse:
    """By symbol from the latest stored bars (omit ``features``), or from explicit features.

    ``"target": "direction"`` answers the calibrated probability of an up close of the next
    bar, ``"return"`` its log return and the implied close (latest stored bars only).
    """
    if request.target != "variance":
        return _target_response(service.targets.answer(_request(request)))
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
    """Answers every item in order, each as ``POST /predict`` answers it (its ``target`` too).

    A bad item fails the batch and is named (``context.item``, its index; ``context.items``
    for a group of explicit-feature rows of one series, scored together). A bad return or
    direction item waits for the variance items before it: if one of those fails, it is named.
    """
    requests = [_request(item) for item in batch.items]
    named = len(requests) > 1
    answers: list[PredictResponse | TargetPredictResponse | None] = [None] * len(requests)
    failed: tuple[int, Exception] | None = None
    for index, request in enumerate(requests):
        if request.target != "variance":
            try:
                made = service.targets.answer(request, item=index if named else None)
            except Exception as exc:  # raised below, unless a variance item before it fails
                failed = (index, exc)
                break
            answers[index] = _target_response(made)
    stop = len(requests) if failed is None else failed[0]
    variance = [i for i, item in enumerate(requests[:stop]) if item.target == "variance"]
    if variance:
        asked = [requests[index] for index in variance]
        items = variance if named else None
        if service.feast is not None:  # online features: HTTP reads, off the event loop
            forecasts = await asyncio.to_thread(service.forecast_many, asked, items=items)
        else:
            forecasts = service.forecast_many(asked, items=items)
        for index, forecast in zip(variance, forecasts, strict=True):
            answers[index] = _response(forecast)
    if failed is not None:
        raise failed[1]
    return BatchResponse(items=[answer for answer in answers if answer is not None])
