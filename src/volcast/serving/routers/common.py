"""Response builders shared by the routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from volcast.errors import ConfigError
from volcast.serving.holder import ServedModel
from volcast.serving.schemas import ErrorResponse, ModelRef

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input (named in detail)"},
    404: {"model": ErrorResponse, "description": "Unknown symbol, interval or forecast"},
    503: {"model": ErrorResponse, "description": "No model in service for the instrument"},
}


def model_ref(model: ServedModel) -> ModelRef:
    """The public reference of a served model."""
    return ModelRef(name=model.name, version=model.version, alias=model.alias, run_id=model.run_id)


def utc_timestamp(value: datetime, *, field: str) -> pd.Timestamp:
    """``value`` as a UTC pandas Timestamp (naive means UTC); 400 when pandas cannot hold it."""
    try:
        stamp = pd.Timestamp(value)
        utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        utc = utc.as_unit("ns")  # stored bars are ns; years outside 1677-2262 fail here
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"{field} {value.isoformat()} is out of range: {exc}") from exc
    return utc
