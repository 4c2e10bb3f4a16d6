"""Forecasts: by symbol from the latest stored bars, or from explicit features; batches."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
from fastapi import APIRouter

from volcast.errors import ConfigError, ModelUnavailableError, VolcastError
from volcast.serving import metrics
from volcast.serving.deps import ServiceDep
from volcast.serving.routers.common import ERRORS, model_ref, utc_timestamp
from volcast.serving.schemas import (
    Baseline,
    BatchRequest,
    BatchResponse,
    DriftFlags,
    PredictRequest,
    PredictResponse,
)
from volcast.serving.service import (
    Entry,
    ForecastService,
    annualize,
    require_model,
)

router = APIRouter(tags=["predict"])


def _response(
    service: ForecastService,
    entry: Entry,
    *,
    as_of: pd.Timestamp,
    variance: float,
    baseline: float | None,
    mode: str,
) -> PredictResponse:
    model = require_model(entry)
    volatility, annual = annualize(variance, entry.interval, horizon=model.horizon)
    base = None
    if baseline is not None:
        b_vol, b_annual = annualize(baseline, entry.interval, horizon=model.horizon)
        base = Baseline(variance=baseline, volatility=b_vol, annualized_volatility=b_annual)
    step = pd.Timedelta(entry.interval)
    metrics.PREDICTIONS.labels(entry.symbol, entry.interval, mode).inc()
    return PredictResponse(
        symbol=entry.symbol,
        interval=entry.interval,
        as_of=as_of.to_pydatetime(),
        target_time=(as_of + step * model.horizon).to_pydatetime(),
        horizon=model.horizon,
        variance=variance,
        volatility=volatility,
        annualized_volatility=annual,
        model=model_ref(model),
        baseline=base,
        drift=DriftFlags(**service.drift_state(entry)),
        input="bars" if mode == "bars" else "features",
        synthetic=entry.bars.synthetic if entry.bars is not None else False,
    )


def _from_bars(
    service: ForecastService, entry: Entry, as_of: pd.Timestamp | None
) -> PredictResponse:
    """The precomputed forecast of the latest stored bar; ``as_of``, if given, must be that bar."""
    require_model(entry)
    forecast = entry.forecast
    if forecast is None:
        raise ModelUnavailableError(
            f"no forecast for {entry.symbol} {entry.interval}: "
            f"{entry.forecast_error or 'no stored bars'}",
            symbol=entry.symbol,
            interval=entry.interval,
        )
    if as_of is not None and as_of != forecast.as_of:
        raise ConfigError(
            f"as_of {as_of.isoformat()} is not the latest stored bar "
            f"{forecast.as_of.isoformat()} of {entry.symbol} {entry.interval}: as_of is only used "
            "with explicit features; a forecast by symbol is for the latest stored bar",
            symbol=entry.symbol,
            interval=entry.interval,
        )
    return _response(
        service,
        entry,
        as_of=forecast.as_of,
        variance=forecast.variance,
        baseline=entry.baseline,
        mode="bars",
    )


def _as_of(request: PredictRequest) -> pd.Timestamp | None:
    if request.as_of is not None:
        return utc_timestamp(request.as_of, field="as_of")
    return None


def _count_error(entry: Entry | None, request: PredictRequest, exc: VolcastError) -> None:
    symbol = entry.symbol if entry is not None else request.symbol
    interval = entry.interval if entry is not None else (request.interval or "")
    metrics.PREDICTION_ERRORS.labels(symbol, interval, type(exc).__name__).inc()


def _forecast_many(
    service: ForecastService, requests: list[PredictRequest]
) -> list[PredictResponse]:
    """Answer requests in order; explicit-feature rows of one instrument are scored together."""
    entries: list[Entry] = []
    for index, request in enumerate(requests):
        try:
            entries.append(service.resolve(request.symbol, request.interval))
        except VolcastError as exc:
            _count_error(None, request, exc)
            if len(requests) > 1:
                exc.context["item"] = index
            raise
    out: list[PredictResponse | None] = [None] * len(requests)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, (request, entry) in enumerate(zip(requests, entries, strict=True)):
        try:
            if request.features is None:
                out[index] = _from_bars(service, entry, _as_of(request))
            else:
                groups[(entry.symbol, entry.interval)].append(index)
        except VolcastError as exc:
            _count_error(entry, request, exc)
            if len(requests) > 1:
                exc.context["item"] = index
            raise
    for indices in groups.values():
        entry = entries[indices[0]]
        rows = [dict(requests[i].features or {}) for i in indices]
        try:
            given = [_as_of(requests[i]) for i in indices]
            variances, stamps = service.predict_features(entry, rows, given)
            baselines = service.baseline_for(entry, rows, stamps)
        except VolcastError as exc:
            _count_error(entry, requests[indices[0]], exc)
            if len(requests) > 1:
                exc.context["items"] = ",".join(str(i) for i in indices)
            raise
        for k, i in enumerate(indices):
            out[i] = _response(
                service,
                entry,
                as_of=stamps[k],
                variance=float(variances[k]),
                baseline=baselines[k],
                mode="features",
            )
    return [item for item in out if item is not None]


@router.post(
    "/predict",
    response_model=PredictResponse,
    summary="Forecast next-bar variance and volatility",
    responses=ERRORS,
)
async def predict(request: PredictRequest, service: ServiceDep) -> PredictResponse:
    """By symbol from the latest stored bars (omit ``features``), or from explicit features."""
    return _forecast_many(service, [request])[0]


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    summary="Several forecasts in one call (bounded size)",
    responses=ERRORS,
)
async def predict_batch(batch: BatchRequest, service: ServiceDep) -> BatchResponse:
    """Answers every item in order; the first bad item fails the batch and is named."""
    return BatchResponse(items=_forecast_many(service, list(batch.items)))
