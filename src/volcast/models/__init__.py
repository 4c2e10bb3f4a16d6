"""Volatility forecasters: baselines, LightGBM and a forecast combination (SPEC 7).

:func:`make_model` builds any candidate by name from ``TrainParams``; ``CANDIDATES`` lists
the names it knows and ``BASELINES`` those that are classical baselines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sklearn.base import clone

from volcast.config import TrainParams
from volcast.errors import ConfigError
from volcast.models.base import VolatilityModel
from volcast.models.baselines import EwmaModel, GarchModel, PersistenceModel
from volcast.models.combination import CombinationModel
from volcast.models.gbm import LightGbmHarModel, LightGbmModel
from volcast.models.har import HarModel
from volcast.models.har_weekly import WeeklyHarModel

CANDIDATES: Final[dict[str, type[VolatilityModel]]] = {
    cls.name: cls
    for cls in (
        PersistenceModel,
        EwmaModel,
        GarchModel,
        HarModel,
        WeeklyHarModel,
        LightGbmModel,
        LightGbmHarModel,
        CombinationModel,
    )
}
"""Every model :func:`make_model` can build, by name."""

BASELINES: Final[tuple[str, ...]] = ("persistence", "ewma", "garch", "har", "har_weekly")
"""The classical baselines a champion must never be worse than."""

COMBINATION_MEMBERS: Final[tuple[str, ...]] = ("ewma", "garch", "har", "har_weekly", "lightgbm_har")
"""Members of the combination: LightGBM on HAR's residual, not plain LightGBM (measured on
three real series in docs/models.md: as good or better alone, and one LightGBM walk-forward
keeps the pipeline within its time budget)."""


def make_model(
    name: str,
    *,
    params: TrainParams,
    interval: str,
    horizon: int = 1,
    features: Sequence[str] | None = None,
) -> VolatilityModel:
    """A fresh, unfitted model ``name`` configured from ``params`` for bars of ``interval``.

    ``features`` are the dataset's feature columns, given to the models that read the whole
    feature set (LightGBM, also inside a combination); None lets them take every numeric
    column but ``timestamp``, ``rv`` and ``target``.
    """
    names = tuple(features) if features is not None else None
    if name == "persistence":
        return PersistenceModel(horizon=horizon)
    if name == "ewma":
        return EwmaModel(lam=params.ewma_lambda, horizon=horizon)
    if name == "garch":
        return GarchModel(horizon=horizon)
    if name == "har":
        return HarModel(interval=interval, horizon=horizon)
    if name == "har_weekly":
        return WeeklyHarModel(interval=interval, horizon=horizon)
    search = tuple(dict(s) for s in params.lightgbm_search)
    if name == "lightgbm":
        return LightGbmModel(
            params=dict(params.lightgbm),
            features=names,
            seed=params.seed,
            search=search,
            horizon=horizon,
        )
    if name == "lightgbm_har":
        return LightGbmHarModel(
            params=dict(params.lightgbm),
            features=names,
            seed=params.seed,
            base=HarModel(interval=interval, horizon=horizon),
            search=search,
            horizon=horizon,
        )
    if name == "combination":
        members = tuple(
            make_model(m, params=params, interval=interval, horizon=horizon, features=names)
            for m in COMBINATION_MEMBERS
        )
        return CombinationModel(members=members, horizon=horizon)
    raise ConfigError(
        f"unknown model candidate {name!r}; choose from {sorted(CANDIDATES)}", model=name
    )


def with_features(model: VolatilityModel, features: Sequence[str]) -> VolatilityModel:
    """An unfitted clone of ``model`` that reads the feature columns ``features``.

    For a registered model refitted on a newer dataset: the models that take the whole
    feature set (LightGBM, also as a combination member) are bound to ``features``; the
    others keep their parameters.
    """
    params = model.get_params(deep=False)
    fresh: VolatilityModel = clone(model)
    if "features" in params:
        fresh.set_params(features=tuple(features))
    if "members" in params:
        fresh.set_params(members=tuple(with_features(m, features) for m in params["members"]))
    return fresh


__all__ = [
    "BASELINES",
    "CANDIDATES",
    "COMBINATION_MEMBERS",
    "CombinationModel",
    "EwmaModel",
    "GarchModel",
    "HarModel",
    "LightGbmHarModel",
    "LightGbmModel",
    "PersistenceModel",
    "VolatilityModel",
    "WeeklyHarModel",
    "make_model",
    "with_features",
]
