"""The ``@champion`` of a return or direction target, followed, and its next-bar forecast.

One :class:`TargetChampion` per (series, target) for the API (:mod:`volcast.serving.targets`)
and for the stream worker (:mod:`volcast.pipeline.target_watch`): it loads the champion of
``volcast-<slug>-<interval>-<kind>`` on first use, re-resolves the alias at most every
``ttl`` seconds (a moved alias loads the new version; a registry that cannot be reached
keeps the last good model) and forecasts the bar after the last of some bars through the
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
from volcast.schemas import TIMESTAMP

if TYPE_CHECKING:
    from volcast.registry.targets import LoadedTargetModel

log = logging.getLogger(__name__)

Loader = Callable[[str, str, str], "LoadedTargetModel"]
"""``load(symbol, interval, kind)`` -> the champion of that target (NotFoundError: none)."""
Resolver = Callable[[str, str, str], int | None]
"""``resolve(symbol, interval, kind)`` -> the champion's version (None when unset)."""


def registry_loader(tracking_uri: str | None) -> tuple[Loader, Resolver]:
    """Load and resolve ``@champion`` of a target through :mod:`volcast.registry.targets`."""
    from volcast.registry.targets import load_target_model, target_alias
    from volcast.registry.tracking import CHAMPION

    def load(symbol: str, interval: str, kind: str) -> LoadedTargetModel:
        return load_target_model(symbol, interval, kind, CHAMPION, tracking_uri=tracking_uri)

    def resolve(symbol: str, interval: str, kind: str) -> int | None:
        found = target_alias(symbol, interval, kind, CHAMPION, tracking_uri=tracking_uri)
        return None if found is None else found[0]

    return load, resolve


@dataclass(frozen=True)
class Served:
    """A loaded target champion with the feature builder it was trained with."""

    model: LoadedTargetModel
    builder: FeatureBuilder

    def forecast_last(self, bars: pd.DataFrame) -> float:
        """The forecast for the bar after the last of the cleaned ``bars`` (a probability in
        [0, 1] for direction, a log return for return)."""
        name = f"{self.model.name} v{self.model.version}"
        if len(bars) < self.builder.required_history:
            raise ModelUnavailableError(
                f"{len(bars)} bars; {name} needs {self.builder.required_history}"
            )
        row = self.builder.transform_last(bars)
        X = pd.DataFrame([row.to_numpy()], columns=row.index)
        X.insert(0, TIMESTAMP, pd.Series([pd.Timestamp(bars[TIMESTAMP].iloc[-1])]))
        missing = [c for c in self.model.feature_names if c not in X.columns]
        if missing:
            raise BadRequestError(f"{name} needs features {missing[:5]} not built")
        value = float(np.asarray(self.model.predict(X), dtype="float64")[-1])
        if not math.isfinite(value):
            raise ModelUnavailableError(f"{name} returned a non-finite forecast")
        return min(max(value, 0.0), 1.0) if self.model.kind == "direction" else value


class TargetChampion:
    """``@champion`` of one target of one series, loaded on first use and followed."""

    def __init__(
        self, symbol: str, interval: str, kind: str, *, load: Loader, resolve: Resolver,
        ttl: float = 30.0,
    ) -> None:  # fmt: skip
        self.symbol, self.interval, self.kind = symbol, interval, kind
        self.load, self.resolve, self.ttl = load, resolve, ttl
        self._served: Served | None = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()

    @property
    def version(self) -> int | None:
        """The version in service (None before one was loaded)."""
        return None if self._served is None else self._served.model.version

    def current(self) -> Served:
        """The champion in service, re-resolved when ``ttl`` has passed.

        NotFoundError when the target has no champion and none was loaded before; any
        other registry error with nothing loaded propagates too.
        """
        with self._lock:
            now = time.monotonic()
            served = self._served
            if served is not None and now - self._checked_at < self.ttl:
                return served
            try:
                if served is not None:
                    version = self.resolve(self.symbol, self.interval, self.kind)
                    if version == served.model.version:
                        self._checked_at = now
                        return served
                model = self.load(self.symbol, self.interval, self.kind)
            except NotFoundError:
                # the alias was removed (or the model deleted): nothing to serve any more
                self._served = None
                raise
            except VolcastError as exc:
                if served is None:
                    raise
                log.warning("keeping %s v%s: %s", served.model.name, served.model.version, exc)
                self._checked_at = now
                return served
            config = model.feature_config
            builder = FeatureBuilder(
                features=FeatureParams.model_validate(config["features"]),
                target=logged_target(config["target"]),
                interval=self.interval,
            )
            self._served = Served(model=model, builder=builder)
            self._checked_at = now
            return self._served
