"""The forecast service: one facade over the served series (:class:`ForecastService`).

A forecast by symbol is a dictionary look-up of the forecast precomputed when the bars or
the model last changed; a forecast from explicit features scores one frame. The jobs live
in their own modules: the served series and their background refresh (:mod:`.catalog`),
stored bars (:mod:`.bars`), scoring (:mod:`.scoring`), the HAR baseline (:mod:`.baseline`),
drift and realized loss (:mod:`.monitor`), readiness (:mod:`.readiness`) and Prometheus
export (:mod:`.export`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import pandas as pd

from volcast.config import Params
from volcast.errors import ConflictError, NotFoundError, VolcastError
from volcast.monitoring import Scored
from volcast.registry.served import ModelLoader, ServedModel
from volcast.schemas import interval_timedelta
from volcast.serving import baseline, export
from volcast.serving.catalog import Catalog, Key
from volcast.serving.entry import Entry
from volcast.serving.feast import FeastFeatures
from volcast.serving.forecast import (
    FeedbackOutcome,
    FeedbackRequest,
    Forecast,
    ForecastRequest,
    Mode,
    annualize,
    utc_timestamp,
)
from volcast.serving.readiness import Readiness, readiness
from volcast.serving.scoring import refuse_sequential, score_at, score_features

if TYPE_CHECKING:
    from volcast.serving.targets import TargetForecaster
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage


class ForecastService:
    """The one entry point of the API: forecasts, feedback, readiness, models, reload.

    Not an HTTP object: the routers translate requests to :meth:`forecast` (or
    :meth:`forecast_many`), :meth:`feedback`, :meth:`readiness`, :meth:`served_models` and
    :meth:`reload`; the app's background task calls :meth:`refresh_data` and
    :meth:`refresh_models`.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        loader: ModelLoader,
        params: Params,
        settings: ServingSettings,
    ) -> None:
        self.catalog = Catalog(storage=storage, loader=loader, params=params, settings=settings)
        self.params = params
        self.settings = settings
        self.started_at = time.time()
        self.feast: FeastFeatures | None = None
        if settings.features == "feast":
            from volcast.featurestore import FeatureStoreSettings

            self.feast = FeastFeatures(FeatureStoreSettings())

    @property
    def loader(self) -> ModelLoader:
        return self.catalog.loader

    @property
    def registry_ok(self) -> bool | None:
        """Whether the last registry poll succeeded (None before the first)."""
        return self.catalog.registry_ok

    @property
    def entries(self) -> dict[Key, Entry]:
        """A snapshot of every series' entry."""
        return self.catalog.entries

    def served_models(self) -> list[ServedModel]:
        """Every model in service, by symbol and interval."""
        return self.catalog.served_models()

    def refresh_data(self) -> list[Key]:
        """Reload the bars whose curated content hash changed (see :class:`Catalog`).

        With online features from Feast, every series' online row is checked too, so that
        ``/ready`` says which series fall back to bars before a request asks.
        """
        changed = self.catalog.refresh_data()
        if self.feast is not None:
            for entry in self.catalog.entries.values():
                if entry.model is not None:
                    self.feast.forecast(entry)
        return changed

    def refresh_models(self, *, force: bool = False) -> list[Key]:
        """Load a new model wherever the served alias moved (see :class:`Catalog`)."""
        return self.catalog.refresh_models(force=force)

    def reload(self) -> tuple[list[Key], list[Key]]:
        """Refresh the bars, then reload every model; returns (reloaded, data refreshed)."""
        refreshed = self.refresh_data()
        return self.refresh_models(force=True), refreshed

    # ----- forecasts ----------------------------------------------------------------------------

    @functools.cached_property
    def targets(self) -> TargetForecaster:
        """The return and direction champions (loaded on first use; SPEC 20)."""
        from volcast.config import get_settings
        from volcast.serving.targets import TargetForecaster, registry_loader

        uri = getattr(self.loader, "tracking_uri", None) or get_settings().tracking_uri()
        load, resolve = registry_loader(uri)
        return TargetForecaster(catalog=self.catalog, load=load, resolve=resolve)

    def forecast(self, request: ForecastRequest) -> Forecast:
        """The forecast asked for (see :meth:`forecast_many`)."""
        return self.forecast_many([request])[0]

    def forecast_many(
        self, requests: list[ForecastRequest], *, items: list[int] | None = None
    ) -> list[Forecast]:
        """Answer requests in order; explicit-feature rows of one series are scored together.

        The first failing request fails all; with several requests its index is in the
        error's context (``item``, or ``items`` for a group of feature rows): the index in
        ``items`` when given (the requests' places in a larger batch), else in ``requests``.
        """
        names = items if items is not None else list(range(len(requests)))
        named = items is not None or len(requests) > 1

        def item(*indices: int) -> str | None:
            return ",".join(str(names[i]) for i in indices) if named else None

        entries: list[Entry] = []
        for index, request in enumerate(requests):
            with _count_failure(None, request, item(index)):
                entries.append(self.catalog.resolve(request.symbol, request.interval))
        out: list[Forecast | None] = [None] * len(requests)
        groups: dict[Key, list[int]] = defaultdict(list)
        for index, (request, entry) in enumerate(zip(requests, entries, strict=True)):
            if request.features is not None:
                groups[entry.series.key].append(index)
                continue
            with _count_failure(entry, request, item(index)):
                out[index] = self._from_bars(entry, request)
        for indices in groups.values():
            entry = entries[indices[0]]
            with _count_failure(entry, requests[indices[0]], item(*indices), key="items"):
                for index, forecast in zip(
                    indices, self._from_features(entry, [requests[i] for i in indices]), strict=True
                ):
                    out[index] = forecast
        return [forecast for forecast in out if forecast is not None]

    def _from_bars(self, entry: Entry, request: ForecastRequest) -> Forecast:
        """The precomputed forecast of the latest stored bar; ``as_of`` may only name that bar."""
        forecast = entry.require_forecast()
        if self.feast is not None:
            online = self.feast.forecast(entry)
            if online is not None and (request.as_of is None or online.as_of == forecast.as_of):
                base = entry.baseline if online.as_of == forecast.as_of else None
                return self._answer(entry, online.as_of, online.variance, base, "feast")
        if request.as_of is not None:
            as_of = utc_timestamp(request.as_of, field="as_of", series=entry.series)
            if as_of != forecast.as_of:
                raise ConflictError(
                    f"as_of {as_of.isoformat()} is not the latest stored bar "
                    f"{forecast.as_of.isoformat()} of {entry.series}: as_of is only used with "
                    "explicit features; a forecast by symbol is for the latest stored bar",
                    symbol=entry.symbol,
                    interval=entry.interval,
                )
        label = "feast_fallback" if self.feast is not None else None
        return self._answer(
            entry, forecast.as_of, forecast.variance, entry.baseline, "bars", label=label
        )

    def _from_features(self, entry: Entry, requests: list[ForecastRequest]) -> list[Forecast]:
        """Forecasts of the explicit feature rows of one series; feeds its drift window."""
        model = entry.require_model()
        refuse_sequential(model)
        stamps: list[pd.Timestamp] = []
        for index, request in enumerate(requests):
            if request.as_of is not None:
                stamps.append(utc_timestamp(request.as_of, field="as_of", series=entry.series))
            elif model.uses_timestamp:
                raise ConflictError(
                    f"features lack the input `as_of` of model {model.name} v{model.version}: "
                    "it reads the bar's timestamp (seasonal terms); pass the bar as `as_of`",
                    symbol=entry.symbol,
                    interval=entry.interval,
                    item=index,
                )
            elif entry.bars is not None:
                stamps.append(entry.bars.last_timestamp)
            else:
                stamps.append(pd.Timestamp.now(tz="UTC").floor(interval_timedelta(entry.interval)))
        rows = [dict(request.features or {}) for request in requests]
        variances = score_features(model, rows, stamps)
        baselines = baseline.forecast_rows(entry.har, rows, stamps)
        monitor = self.catalog.monitor(entry.series)
        for row in rows:
            monitor.observe(model, row)
        return [
            self._answer(entry, stamp, float(variance), base, "features")
            for stamp, variance, base in zip(stamps, variances, baselines, strict=True)
        ]

    def _answer(
        self,
        entry: Entry,
        as_of: pd.Timestamp,
        variance: float,
        base: float | None,
        mode: Mode,
        *,
        label: str | None = None,
    ) -> Forecast:
        model = entry.require_model()
        try:
            target_time = as_of + interval_timedelta(entry.interval) * model.horizon
        except (OverflowError, ValueError) as exc:
            raise NotFoundError(
                f"no forecast of {entry.series} at {as_of.isoformat()}: its target bar is out "
                f"of range ({exc})",
                symbol=entry.symbol,
                interval=entry.interval,
            ) from exc
        export.prediction(entry.series, label or mode)
        return Forecast(
            series=entry.series,
            as_of=as_of,
            target_time=target_time,
            horizon=model.horizon,
            forecast=annualize(variance, entry.interval, horizon=model.horizon),
            baseline=(
                None if base is None else annualize(base, entry.interval, horizon=model.horizon)
            ),
            model=model,
            drift=self.catalog.monitor(entry.series).drift(),
            input=mode,
            synthetic=entry.bars.synthetic if entry.bars is not None else False,
        )

    # ----- feedback -----------------------------------------------------------------------------

    def feedback(self, request: FeedbackRequest) -> FeedbackOutcome:
        """Score the forecast made at ``as_of`` against a realized variance, once per bar.

        The forecast is taken from memory, else recomputed from the bars in memory with the
        current model; NotFoundError when neither has it. A bar already counted in this worker
        is not counted again: its earlier outcome comes back with ``duplicate=True``.
        """
        entry = self.catalog.resolve(request.symbol, request.interval)
        as_of = utc_timestamp(request.as_of, field="as_of", series=entry.series)
        realized = float(request.realized_variance)
        monitor = self.catalog.monitor(entry.series)
        remembered = monitor.remembered(as_of)
        if isinstance(remembered, Scored):
            return self._outcome(entry, as_of, remembered)
        forecast, base = remembered if remembered is not None else self._recompute(entry, as_of)
        scored = monitor.score(as_of, realized, forecast, base)
        if not math.isfinite(scored.loss):
            raise ConflictError(
                f"the forecast of {entry.series} at {as_of.isoformat()} ({forecast!r}) has no "
                "finite QLIKE against any realized variance",
                symbol=entry.symbol,
                interval=entry.interval,
            )
        return self._outcome(entry, as_of, scored)

    @staticmethod
    def _outcome(entry: Entry, as_of: pd.Timestamp, scored: Scored) -> FeedbackOutcome:
        detail = None
        if scored.duplicate:
            detail = (
                f"duplicate: feedback for {entry.series} at {as_of.isoformat()} was already "
                f"counted (realized variance {scored.realized!r}); not counted again"
            )
        elif not scored.counted:
            detail = (
                f"not counted: realized variance {scored.realized!r} against the forecast "
                f"{scored.forecast!r} is off by more than 1e12 (no meaningful QLIKE); send the "
                "bar's variance in the forecast's units"
            )
        return FeedbackOutcome(entry.series, as_of, scored, detail)

    def _recompute(self, entry: Entry, as_of: pd.Timestamp) -> tuple[float, float | None]:
        model = entry.require_model()
        if entry.bars is not None:
            variance = score_at(
                model,
                entry.bars.frame,
                as_of,
                rows=self.settings.history_bars,
                headlines=entry.headlines,
            )
            if variance is not None:
                return variance, None
        raise NotFoundError(
            f"no forecast of {entry.series} at {as_of.isoformat()}: it is not among the bars "
            "in memory; feedback needs a bar the service has forecast from",
            symbol=entry.symbol,
            interval=entry.interval,
        )

    # ----- readiness ----------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        """Whether at least one series can be forecast, and every degradation found."""
        state = readiness(
            self.catalog.entries.values(),
            max_staleness_bars=self.params.quality.max_staleness_bars,
            registry_ok=self.registry_ok,
            registry_error=self.catalog.registry_error,
        )
        fallbacks = self.feast.reasons() if self.feast is not None else []
        if not fallbacks:
            return state
        status: Literal["ready", "degraded", "unavailable"] = (
            "degraded" if state.status == "ready" else state.status
        )
        return dataclasses.replace(state, status=status, reasons=[*state.reasons, *fallbacks])


@contextlib.contextmanager
def _count_failure(
    entry: Entry | None, request: ForecastRequest, item: int | str | None, key: str = "item"
) -> Iterator[None]:
    """Count a volcast error of a forecast request and name the failing item(s) in it."""
    try:
        yield
    except VolcastError as exc:
        symbol = entry.symbol if entry is not None else request.symbol
        interval = entry.interval if entry is not None else (request.interval or "")
        export.prediction_error(symbol, interval, exc)
        if item is not None:
            exc.context[key] = item
        raise
