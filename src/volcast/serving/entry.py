"""What is served for one series: an immutable :class:`Entry`, replaced whole on refresh.

The background refreshes build a new entry off the request path and swap it in with one
assignment, so a request sees either the old entry or the new one, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from volcast.errors import ModelUnavailableError
from volcast.models import HarModel
from volcast.registry.served import ServedModel
from volcast.series import Series
from volcast.serving.bars import Bars
from volcast.serving.scoring import BarForecast


@dataclass(frozen=True)
class Entry:
    """Everything served for one series; replaced whole, never mutated."""

    series: Series
    model: ServedModel | None = None
    model_error: str | None = None
    bars: Bars | None = None
    forecast: BarForecast | None = None
    forecast_error: str | None = None
    baseline: float | None = None
    har: HarModel | None = None
    headlines: pd.DataFrame | None = None  # read with the bars when the model uses news

    @property
    def symbol(self) -> str:
        return self.series.symbol

    @property
    def interval(self) -> str:
        return self.series.interval

    def require_model(self) -> ServedModel:
        """The model in service, or ModelUnavailableError with the reason."""
        if self.model is None:
            raise ModelUnavailableError(
                f"no model in service for {self.series}: {self.model_error or 'not loaded yet'}",
                symbol=self.symbol,
                interval=self.interval,
            )
        return self.model

    def require_forecast(self) -> BarForecast:
        """The forecast of the latest stored bar, or ModelUnavailableError with the reason."""
        self.require_model()
        if self.forecast is None:
            raise ModelUnavailableError(
                f"no forecast for {self.series}: {self.forecast_error or 'no stored bars'}",
                symbol=self.symbol,
                interval=self.interval,
            )
        return self.forecast
