"""The models in service."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from volcast.serving.deps import ServiceDep
from volcast.serving.routers.common import model_ref
from volcast.serving.schemas import ModelDetail, ModelInfo

router = APIRouter(tags=["model"])


@router.get("/model/info", response_model=ModelInfo, summary="Models in service and their inputs")
async def model_info(service: ServiceDep) -> ModelInfo:
    """Name, version, alias, run, horizon and input features of every served model."""
    details = []
    for model in service.served_models():
        builder = model.builder
        details.append(
            ModelDetail(
                symbol=model.symbol,
                interval=model.interval,
                model=model_ref(model),
                horizon=model.horizon,
                feature_names=model.feature_inputs,
                required_history=builder.required_history,
                feature_config={
                    "features": builder.features.model_dump(mode="json"),
                    "target": builder.target.model_dump(mode="json"),
                    "interval": builder.interval,
                },
                loaded_at=datetime.fromtimestamp(model.loaded_at, tz=UTC),
            )
        )
    return ModelInfo(models=details)
