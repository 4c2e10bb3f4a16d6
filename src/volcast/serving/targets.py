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

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from volcast.config import FeatureParams
from volcast.errors import BadRequestError, ModelUnavailableError, NotFoundError, VolcastError
from volcast.features import FeatureBuilder
from volcast.features.target import logged_target
from volcast.schemas import interval_timedelta
from volcast.series import Series
from volcast.serving.catalog import Catalog

if TYPE_CHECKING:
    from volcast.registry.targets import LoadedTargetModel

log = logging.getLogger(__name__)

Loader = Callable[[str, str, str], "LoadedTargetModel"]
"""``load(symbol, interval, kind)`` -> the champion of that target."""
Resolver = Callable[[str, str, str], int | None]
"""``resolve(symbol, interval, kind)`` -> the champion's version (None when unset)."""


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


@dataclass
class _Slot:
    model: LoadedTargetModel
    builder: FeatureBuilder
    checked_at: float


def registry_loader(tracking_uri: str | None) -> tuple[Loader, Resolver]:
    """Load and resolve ``@champion`` of a target through :mod:`volcast.registry.targets`."""
    from volcast.registry import CHAMPION
    from volcast.registry.targets import load_target_model, target_alias

    def load(symbol: str, interval: str, kind: str) -> LoadedTargetModel:
        return load_target_model(symbol, interval, kind, CHAMPION, tracking_uri=tracking_uri)

    def resolve(symbol: str, interval: str, kind: str) -> int | None:
        found = target_alias(symbol, interval, kind, CHAMPION, tracking_uri=tracking_uri)
        return None if found is None else found[0]

    return load, resolve


class TargetForecaster:
    """The served champions of the return and direction targets, by series."""

    def __init__(
        self, *, catalog: Catalog, load: Loader, resolve: Resolver, ttl: float = 30.0
    ) -> None:
        self.catalog = catalog
        self.load = load
        self.resolve = resolve
        self.ttl = ttl
        self._slots: dict[tuple[str, str, str], _Slot] = {}
        self._lock = threading.Lock()

    def _model(self, series: Series, kind: str) -> _Slot:
        key = (*series.key, kind)
        now = time.monotonic()
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None and now - slot.checked_at < self.ttl:
                return slot
            try:
                if slot is not None:
                    version = self.resolve(series.symbol, series.interval, kind)
                    if version == slot.model.version:
                        slot.checked_at = now
                        return slot
                model = self.load(series.symbol, series.interval, kind)
            except NotFoundError as exc:
                raise ModelUnavailableError(
                    f"no @champion {kind} model for {series}: run `volcast pipeline --target "
                    f"{kind}` first",
                    symbol=series.symbol,
                    interval=series.interval,
                ) from exc
            except VolcastError as exc:
                if slot is None:
                    raise
                log.warning("keeping %s v%s: %s", slot.model.name, slot.model.version, exc)
                slot.checked_at = now
                return slot
            config = model.feature_config
            builder = FeatureBuilder(
                features=FeatureParams.model_validate(config["features"]),
                target=logged_target(config["target"]),
                interval=series.interval,
            )
            slot = _Slot(model=model, builder=builder, checked_at=now)
            self._slots[key] = slot
            return slot

    def forecast(self, symbol: str, interval: str | None, kind: str) -> TargetForecast:
        """The ``kind`` forecast for the bar after the latest stored bar of the series."""
        entry = self.catalog.resolve(symbol, interval)
        bars = entry.bars
        if bars is None:
            raise NotFoundError(
                f"no stored bars for {entry.series}", symbol=symbol, interval=entry.interval
            )
        slot = self._model(entry.series, kind)
        frame = bars.frame
        if len(frame) < slot.builder.required_history:
            raise ModelUnavailableError(
                f"{len(frame)} stored bars held in memory; the {kind} model needs "
                f"{slot.builder.required_history}",
                symbol=symbol,
                interval=entry.interval,
            )
        row = slot.builder.transform_last(frame)
        X = pd.DataFrame([row.to_numpy()], columns=row.index)
        as_of = pd.Timestamp(frame["timestamp"].iloc[-1])
        X.insert(0, "timestamp", pd.Series([as_of]))
        missing = [c for c in slot.model.feature_names if c not in X.columns]
        if missing:
            raise BadRequestError(f"the {kind} model needs features {missing[:5]} not built")
        value = float(np.asarray(slot.model.predict(X), dtype="float64")[-1])
        if not math.isfinite(value):
            raise ModelUnavailableError(
                f"the {kind} model returned a non-finite forecast", symbol=symbol
            )
        if kind == "direction":
            value = min(max(value, 0.0), 1.0)
        return TargetForecast(
            series=entry.series,
            kind=kind,
            as_of=as_of,
            target_time=as_of + interval_timedelta(entry.interval),
            value=value,
            close=float(frame["close"].iloc[-1]),
            model=slot.model,
            synthetic=bars.synthetic,
        )
