"""Volatility forecasters: baselines, LightGBM and a forecast combination (SPEC 7).

:func:`make_model` builds any candidate by name from ``TrainParams``; ``CANDIDATES`` lists
the names it knows and ``BASELINES`` those that are classical baselines.
"""

from __future__ import annotations

from typing import Final

from volcast.config import TrainParams
from volcast.errors import ConfigError
from volcast.models.base import VolatilityModel
from volcast.models.baselines import EwmaModel, GarchModel, HarModel, PersistenceModel
from volcast.models.combination import CombinationModel
from volcast.models.gbm import LightGbmModel

CANDIDATES: Final[dict[str, type[VolatilityModel]]] = {
    cls.name: cls
    for cls in (
        PersistenceModel,
        EwmaModel,
        GarchModel,
        HarModel,
        LightGbmModel,
        CombinationModel,
    )
}
"""Every model :func:`make_model` can build, by name."""

BASELINES: Final[tuple[str, ...]] = ("persistence", "ewma", "garch", "har")
"""The classical baselines a champion must never be worse than."""

COMBINATION_MEMBERS: Final[tuple[str, ...]] = ("ewma", "garch", "har", "lightgbm")


def make_model(
    name: str, *, params: TrainParams, interval: str, horizon: int = 1
) -> VolatilityModel:
    """A fresh, unfitted model ``name`` configured from ``params`` for bars of ``interval``."""
    if name == "persistence":
        return PersistenceModel(horizon=horizon)
    if name == "ewma":
        return EwmaModel(lam=params.ewma_lambda, horizon=horizon)
    if name == "garch":
        return GarchModel(horizon=horizon)
    if name == "har":
        return HarModel(interval=interval, horizon=horizon)
    if name == "lightgbm":
        return LightGbmModel(params=dict(params.lightgbm), seed=params.seed)
    if name == "combination":
        members = tuple(
            make_model(m, params=params, interval=interval, horizon=horizon)
            for m in COMBINATION_MEMBERS
        )
        return CombinationModel(members=members, horizon=horizon)
    raise ConfigError(
        f"unknown model candidate {name!r}; choose from {sorted(CANDIDATES)}", model=name
    )


__all__ = [
    "BASELINES",
    "CANDIDATES",
    "COMBINATION_MEMBERS",
    "CombinationModel",
    "EwmaModel",
    "GarchModel",
    "HarModel",
    "LightGbmModel",
    "PersistenceModel",
    "VolatilityModel",
    "make_model",
]
