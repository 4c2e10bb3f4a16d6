"""Settings of the forecast service (``VOLCAST_SERVE_*``); where data and models live comes
from :class:`volcast.config.Settings` (``VOLCAST_DATA_DIR``, ``MLFLOW_TRACKING_URI``)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_BATCH_SIZE: Final = 256
"""Most items one ``POST /predict/batch`` may carry (part of the OpenAPI schema)."""


class ServingSettings(BaseSettings):
    """Tunables of ``volcast serve``; each can be set as ``VOLCAST_SERVE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="VOLCAST_SERVE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    alias: str = Field(default="champion", description="Registry alias served per symbol")
    model_poll_seconds: float = Field(
        default=30.0, gt=0.0, description="How often the registry alias is checked"
    )
    data_poll_seconds: float = Field(
        default=5.0, gt=0.0, description="How often the curated meta (content hash) is checked"
    )
    history_bars: int = Field(
        default=2000,
        ge=1,
        description=(
            "Complete feature rows a forecast by symbol runs the model through (sequential "
            "models carry state row to row); the bars kept in memory are these plus the "
            "model's feature warm-up. The HAR baseline is refit on them too"
        ),
    )
    drift_window: int = Field(default=500, ge=1, description="Feature rows in the drift window")
    drift_min_samples: int = Field(default=30, ge=1)
    feedback_window: int = Field(default=200, ge=1, description="Rolling QLIKE window")
    forecast_memory: int = Field(
        default=1000, ge=1, description="Past forecasts per symbol kept for /feedback"
    )
    registry_timeout_seconds: float = Field(
        default=5.0, gt=0.0, description="HTTP timeout of registry calls (no retries)"
    )
    features: Literal["bars", "feast"] = Field(
        default="bars",
        description=(
            "Where a forecast by symbol gets the latest bar's features: computed from the bars "
            "in memory, or read from the Feast feature server (VOLCAST_FEAST_URL; falls back "
            "to bars, saying so, when it is down or its row is stale: docs/feature-store.md)"
        ),
    )
