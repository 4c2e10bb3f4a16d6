"""Response pieces shared by the routers."""

from __future__ import annotations

from typing import Any

from volcast.registry.served import ServedModel
from volcast.serving.schemas import ErrorResponse, ModelRef

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input (named in detail)"},
    404: {"model": ErrorResponse, "description": "Unknown symbol, interval, bar or forecast"},
    409: {
        "model": ErrorResponse,
        "description": (
            "The request does not fit the served state: as_of is not the latest stored bar, "
            "several intervals are stored and none given, or the model in service cannot "
            "take these features"
        ),
    },
    503: {"model": ErrorResponse, "description": "No model in service for the instrument"},
}


def model_ref(model: ServedModel) -> ModelRef:
    """The public reference of a served model."""
    return ModelRef(name=model.name, version=model.version, alias=model.alias, run_id=model.run_id)
