"""Request and response models of the forecast API (separate classes for each direction)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from volcast.serving.settings import MAX_BATCH_SIZE

INTERVAL_PATTERN: Final = r"^[1-9][0-9]*(min|h|d|w)$"
"""Bar intervals the API accepts (a positive count of minutes, hours, days or weeks)."""

MAX_REALIZED_VARIANCE: Final = 1e4
"""Largest realized variance accepted: a log-return variance of 1e4 (a standard deviation of
100 in log terms per bar) is far beyond any market; above it QLIKE overflows."""

SYMBOL_PATTERN: Final = r"[A-Za-z0-9]"
"""A symbol needs a letter or digit (its slug keeps only those)."""

Symbol = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=SYMBOL_PATTERN,
        description="Instrument, e.g. EUR/USD (at least one ASCII letter or digit)",
        examples=["EUR/USD"],
    ),
]
Interval = Annotated[
    str | None,
    Field(
        default=None,
        max_length=16,
        pattern=INTERVAL_PATTERN,
        description="Bar interval (1h, 15min, 1d...); optional when one is stored",
        examples=["1h"],
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PredictRequest(_Request):
    """A forecast by symbol (from the latest stored bars) or from explicit features."""

    symbol: Symbol
    interval: Interval = None
    features: dict[str, FiniteFloat] | None = Field(
        default=None,
        max_length=1000,
        description="Feature values by name (see GET /model/info); omit to use the stored bars",
    )
    as_of: datetime | None = Field(
        default=None,
        description=(
            "Bar the explicit features describe (UTC); default: the latest stored bar. "
            "Without features only the latest stored bar is accepted (400 otherwise)"
        ),
    )
    target: Literal["variance", "return", "direction"] = Field(
        default="variance",
        description=(
            "What to forecast: variance (default), return (the next bar's log return and the "
            "implied close) or direction (the calibrated probability of an up close); return "
            "and direction answer from the latest stored bars only"
        ),
    )


class TargetPredictResponse(BaseModel):
    """A next-bar return or direction forecast (``target`` return or direction)."""

    symbol: str
    interval: str
    target: Literal["return", "direction"]
    as_of: datetime = Field(description="Bar the forecast is made at")
    target_time: datetime = Field(description="Start of the bar forecast (as_of + interval)")
    horizon: int = 1
    probability_up: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="direction: probability that the next bar closes above close",
    )
    forecast_return: float | None = Field(
        default=None, description="return: forecast log return of the next close over close"
    )
    close: float = Field(description="Close of the as_of bar")
    implied_close: float | None = Field(
        default=None, description="return: close * exp(forecast_return)"
    )
    model: ModelRef
    synthetic: bool = Field(description="Whether the stored bars are synthetic (sample source)")


class BatchRequest(_Request):
    """Up to ``MAX_BATCH_SIZE`` forecast requests answered together."""

    items: list[PredictRequest] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


class FeedbackRequest(_Request):
    """The realized variance of a bar the service forecast earlier."""

    symbol: Symbol
    interval: Interval = None
    as_of: datetime = Field(description="Bar the forecast was made at (``as_of`` of /predict)")
    realized_variance: FiniteFloat = Field(
        gt=0.0,
        le=MAX_REALIZED_VARIANCE,
        description=(
            "Realized variance of the bar (of log returns; a value off the forecast by more "
            "than 1e12 is answered but not counted)"
        ),
    )


class ModelRef(BaseModel):
    """The registered model that made a forecast."""

    name: str
    version: int
    alias: str | None
    run_id: str


class Baseline(BaseModel):
    """The HAR baseline's forecast for the same bar (refit on the stored bars)."""

    name: Literal["har"] = "har"
    variance: float
    volatility: float
    annualized_volatility: float


class DriftFlags(BaseModel):
    """Input drift over the recent window of feature rows."""

    detected: bool
    ood_ratio: float
    drifted_features: list[str]
    window: int


class PredictResponse(BaseModel):
    """A next-bar variance forecast with its volatility, model and baseline."""

    symbol: str
    interval: str
    as_of: datetime = Field(description="Bar the forecast is made at")
    target_time: datetime = Field(description="Start of the last bar forecast (as_of + horizon)")
    horizon: int
    variance: float
    volatility: float
    annualized_volatility: float
    model: ModelRef
    baseline: Baseline | None
    drift: DriftFlags
    input: Literal["bars", "features", "feast"]
    synthetic: bool = Field(description="Whether the stored bars are synthetic (sample source)")


class BatchResponse(BaseModel):
    """One response per item, in order: each as ``POST /predict`` answers it."""

    items: list[PredictResponse | TargetPredictResponse]


class FeedbackResponse(BaseModel):
    """The loss of the forecast against the realized value."""

    symbol: str
    interval: str
    as_of: datetime
    realized_variance: float
    forecast_variance: float
    baseline_variance: float | None
    qlike: float
    rolling_qlike: float | None = Field(
        description="Mean QLIKE over the window (null before any feedback was counted)"
    )
    duplicate: bool = Field(
        default=False,
        description="The bar was already scored: its earlier outcome, not counted again",
    )
    counted: bool = Field(
        default=True,
        description="Whether this feedback entered the rolling QLIKE (false: see detail)",
    )
    detail: str | None = Field(default=None, description="Why the feedback was not counted")


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"
    uptime_seconds: float


class InstrumentStatus(BaseModel):
    """Served state of one instrument."""

    symbol: str
    interval: str
    model: ModelRef | None
    model_error: str | None
    last_bar: datetime | None
    data_age_seconds: float | None
    stale: bool
    synthetic: bool
    forecast_ready: bool


class Readiness(BaseModel):
    """Readiness: ready when at least one instrument can be forecast."""

    status: Literal["ready", "degraded", "unavailable"]
    reasons: list[str]
    registry_reachable: bool | None
    instruments: list[InstrumentStatus]


class ModelDetail(BaseModel):
    """A served model and the inputs it expects."""

    symbol: str
    interval: str
    model: ModelRef
    horizon: int
    feature_names: list[str]
    required_history: int
    feature_config: dict[str, object]
    loaded_at: datetime


class ModelInfo(BaseModel):
    """Every served model."""

    models: list[ModelDetail]


class ReloadResponse(BaseModel):
    """What an admin reload changed."""

    reloaded: list[str]
    data_refreshed: list[str]
    registry_reachable: bool | None


class ErrorResponse(BaseModel):
    """A clear error: what went wrong, the error class and its context."""

    detail: str
    error: str
    context: dict[str, str] = Field(default_factory=dict)
