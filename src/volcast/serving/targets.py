"""Forecasts of the other targets (SPEC 20) for ``POST /predict`` with ``"target"``.

``direction`` answers the champion's calibrated probability that the next bar closes above
the latest stored bar's close; ``return`` the forecast log return of the next close and the
implied close. The champion of ``volcast-<slug>-<interval>-<target>`` is loaded from the
registry on first use and re-resolved at most every ``ttl`` seconds (a moved alias loads
the new version; a registry that cannot be reached keeps the last good model in service).
Features come from the series' bars the service already holds in memory, through the same
:class:`~volcast.features.FeatureBuilder` the model was trained with.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from volcast.errors import ConflictError, ModelUnavailableError, NotFoundError, VolcastError
from volcast.registry.target_served import Loader, Resolver, TargetChampion, registry_loader
from volcast.schemas import interval_timedelta
from volcast.series import Series
from volcast.serving.catalog import Catalog
from volcast.serving.forecast import ForecastRequest

if TYPE_CHECKING:
    from volcast.registry.targets import LoadedTargetModel

__all__ = ["TargetForecast", "TargetForecaster", "registry_loader"]


@dataclass(frozen=True)
class TargetForecast:
    """One return or direction forecast from the latest stored bar."""

    series: Series
    kind: str
    as_of: pd.Timestamp
    target_time: pd.Timestamp
    value: float
    close: float
    model: LoadedTargetModel
    synthetic: bool

    @property
    def implied_close(self) -> float:
        """``close * exp(forecast log return)`` (return target)."""
        return self.close * math.exp(self.value)


class TargetForecaster:
    """The served champions of the return and direction targets, by series."""

    def __init__(
        self, *, catalog: Catalog, load: Loader, resolve: Resolver, ttl: float = 30.0
    ) -> None:
        self.catalog = catalog
        self.load = load
        self.resolve = resolve
        self.ttl = ttl
        self._champions: dict[tuple[str, str, str], TargetChampion] = {}
        self._lock = threading.Lock()

    def _champion(self, series: Series, kind: str) -> TargetChampion:
        key = (*series.key, kind)
        with self._lock:
            champion = self._champions.get(key)
            if champion is None:
                champion = TargetChampion(
                    series.symbol, series.interval, kind,
                    load=self.load, resolve=self.resolve, ttl=self.ttl,
                )  # fmt: skip
                self._champions[key] = champion
            return champion

    def answer(self, request: ForecastRequest, *, item: int | None = None) -> TargetForecast:
        """The forecast of ``request.target`` (return or direction) by symbol.

        ``features`` and ``as_of`` are refused (409): these targets forecast from the latest
        stored bars only. ``item`` (a request's place in a batch) is named in an error.
        """
        try:
            if request.features is not None or request.as_of is not None:
                raise ConflictError(
                    f"target {request.target!r} forecasts from the latest stored bars only: "
                    "omit features and as_of",
                    symbol=request.symbol,
                )
            return self.forecast(request.symbol, request.interval, request.target)
        except VolcastError as exc:
            if item is not None:
                exc.context["item"] = item
            raise

    def forecast(self, symbol: str, interval: str | None, kind: str) -> TargetForecast:
        """The ``kind`` forecast for the bar after the latest stored bar of the series."""
        entry = self.catalog.resolve(symbol, interval)
        bars = entry.bars
        if bars is None:
            raise NotFoundError(
                f"no stored bars for {entry.series}", symbol=symbol, interval=entry.interval
            )
        try:
            served = self._champion(entry.series, kind).current()
        except NotFoundError as exc:
            raise ModelUnavailableError(
                f"no @champion {kind} model for {entry.series}: run `volcast pipeline --target "
                f"{kind}` first",
                symbol=symbol,
                interval=entry.interval,
            ) from exc
        frame = bars.frame
        try:
            value = served.forecast_last(frame)
        except VolcastError as exc:
            exc.context.setdefault("symbol", symbol)
            exc.context.setdefault("interval", entry.interval)
            raise
        as_of = pd.Timestamp(frame["timestamp"].iloc[-1])
        return TargetForecast(
            series=entry.series,
            kind=kind,
            as_of=as_of,
            target_time=as_of + interval_timedelta(entry.interval),
            value=value,
            close=float(frame["close"].iloc[-1]),
            model=served.model,
            synthetic=bars.synthetic,
        )
