"""Forecasters of the other targets (SPEC 20): the next bar's log return and its direction.

Each is a scikit-learn style estimator like the variance models (``fit(X, y)`` on a time-ordered
slice of the feature dataset, ``predict(X)`` one value per row) but predicts a log return
(``kind = "return"``) or the probability that the next bar closes up (``kind = "direction"``).

Baselines: ``zero`` (a zero return: the random walk, whose implied next close is this close);
``base_rate`` (the share of up bars known before each bar, expanding) and ``logistic`` (a logistic
regression on the last :data:`~volcast.features.builder.RETURN_LAGS` log returns).

Learned: ``lightgbm_return`` and ``lightgbm_direction``. Each fits its booster on the head of
the training rows and calibrates it on the held-out tail (the last ``holdout`` share, after a
one-row purge), never on anything after the training rows: the return model scales the
booster's forecast by the no-intercept least-squares slope of the tail's realized returns on
it, the direction model maps the booster's log-odds through a Platt fit (logistic of the
outcome on the log-odds). Both shrink to the naive forecast (a zero return; the training
base rate) when the tail shows no signal: a slope that is not positive with a t statistic of
at least :data:`MIN_T` (one-sided, about 2.5 %) is set to zero. That is the honest way to hold
the floor (Brier no worse than the base rate, out-of-sample R2 against zero not negative) on
series where the next bar's direction is close to a coin toss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from volcast.config import TrainParams
from volcast.errors import ConfigError
from volcast.models.target_baselines import (
    BaseRateModel,
    LogisticLagModel,
    TargetKind,
    TargetModel,
    ZeroReturnModel,
    return_lag_columns,
)
from volcast.models.target_gbm import (
    MIN_CALIBRATION_ROWS,
    MIN_T,
    LightGbmDirectionModel,
    LightGbmReturnModel,
)

__all__ = [
    "MIN_CALIBRATION_ROWS",
    "MIN_T",
    "TARGET_BASELINES",
    "TARGET_CANDIDATES",
    "TARGET_MODELS",
    "BaseRateModel",
    "LightGbmDirectionModel",
    "LightGbmReturnModel",
    "LogisticLagModel",
    "TargetKind",
    "TargetModel",
    "ZeroReturnModel",
    "make_target_model",
    "return_lag_columns",
]

TARGET_MODELS: Final[dict[str, type[TargetModel]]] = {
    cls.name: cls
    for cls in (
        ZeroReturnModel,
        LightGbmReturnModel,
        BaseRateModel,
        LogisticLagModel,
        LightGbmDirectionModel,
    )
}
TARGET_CANDIDATES: Final[dict[str, tuple[str, ...]]] = {
    "return": ("zero", "lightgbm_return"),
    "direction": ("base_rate", "logistic", "lightgbm_direction"),
}
"""The candidates a walk-forward of each target runs, baselines first."""
TARGET_BASELINES: Final[dict[str, tuple[str, ...]]] = {
    "return": ("zero",),
    "direction": ("base_rate", "logistic"),
}


def make_target_model(
    name: str, *, kind: str, params: TrainParams, features: Sequence[str] | None = None
) -> TargetModel:
    """A fresh, unfitted model ``name`` of target ``kind``."""
    cls = TARGET_MODELS.get(name)
    if cls is None or cls.kind != kind:
        raise ConfigError(
            f"unknown {kind} model {name!r}; choose from {list(TARGET_CANDIDATES.get(kind, ()))}",
            model=name,
        )
    names = tuple(features) if features is not None else None
    if cls in (LightGbmReturnModel, LightGbmDirectionModel):
        return cls(params=dict(params.lightgbm), features=names, seed=params.seed)
    return cls()
