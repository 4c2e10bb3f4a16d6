"""Response models of the status page's JSON endpoints (``/api/series/...``).

The page and scripts read the same documents; every float is finite or null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Level = Literal["ok", "warn", "alert", "info"]
"""A status colour: ok (green), warn (amber), alert (red), info (grey: not applicable)."""

Origin = Literal["live", "backtest", "none"]


class SeriesItem(BaseModel):
    """One served series and where its JSON documents are."""

    symbol: str
    interval: str
    slug: str = Field(description="The symbol's slug: the `{symbol}` of the other endpoints")
    synthetic: bool = Field(description="Whether the stored bars are synthetic (sample data)")
    live: bool = Field(description="Whether the stored bars come from a live source")
    source: str | None
    last_bar: datetime | None
    model_version: int | None
    status: Level = Field(description="The worst of the series' indicators")
    links: dict[str, str] = Field(description="forecasts, events, champion, status URLs")


class SeriesList(BaseModel):
    """Every served series, by symbol and interval."""

    series: list[SeriesItem]


class ForecastPoint(BaseModel):
    """One bar: the forecast volatility made at it, what was realized, the HAR baseline."""

    timestamp: datetime = Field(description="The bar the forecast was made at")
    forecast: float = Field(description="Forecast volatility (square root of the variance)")
    realized: float | None = Field(description="Realized volatility; null until it is known")
    baseline: float | None = Field(description="HAR baseline volatility; null when absent")


class ForecastHistory(BaseModel):
    """Forecast vs realized volatility over the recent bars."""

    symbol: str
    interval: str
    origin: Origin = Field(
        description="live: the stream worker's forecasts log; backtest: the champion's "
        "out-of-sample walk-forward predictions; none: nothing stored yet"
    )
    model: str | None = Field(description="The forecaster of the points (kind or version)")
    synthetic: bool
    points: list[ForecastPoint]


class EventItem(BaseModel):
    """One monitoring event of the live loop."""

    time: datetime = Field(description="The bar the decision was made at")
    event: str
    detail: dict[str, Any]


class EventList(BaseModel):
    """The latest events, newest first."""

    symbol: str
    interval: str
    events: list[EventItem]


class ChampionCard(BaseModel):
    """The model in service, with the registry's record of its promotion."""

    symbol: str
    interval: str
    name: str
    version: int
    alias: str | None
    kind: str | None = Field(description="The candidate (lightgbm, har, combination ...)")
    run_id: str
    loaded_at: datetime
    registered_at: datetime | None
    decision: str | None = Field(description="promoted or rejected, when `promote` judged it")
    reason: str | None
    decided_at: datetime | None
    qlike: float | None = Field(description="Its walk-forward QLIKE in training")
    baselines_qlike: dict[str, float] = Field(description="Each baseline's walk-forward QLIKE")
    promotion_qlike: float | None = Field(description="Its QLIKE on the promotion window")
    previous_champion_qlike: float | None


class Indicator(BaseModel):
    """One health indicator with its status colour."""

    status: Level
    value: float | None
    text: str


class SeriesStatus(BaseModel):
    """Drift, out-of-distribution ratio, data freshness and realized loss of one series."""

    symbol: str
    interval: str
    synthetic: bool
    worker: bool = Field(description="Whether a stream worker's state summary is read")
    status: Level = Field(description="The worst of the indicators")
    freshness: Indicator = Field(description="Age of the latest stored bar, seconds")
    drift: Indicator = Field(description="Input drift (value: drifted features)")
    ood: Indicator = Field(description="Out-of-distribution ratio of the drift window")
    loss: Indicator = Field(description="Rolling realized QLIKE of the champion vs HAR")
    last_bar: datetime | None
    last_processed: datetime | None
    drifted_features: list[str]
    rolling_qlike: float | None
    rolling_qlike_baseline: float | None
    training_qlike: float | None
