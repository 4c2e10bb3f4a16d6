"""The contract every volatility model follows, and the helpers the models share.

A model is a scikit-learn style estimator: ``fit(X, y)`` returns ``self``, ``predict(X)``
returns one strictly positive forecast of next-bar variance per row of ``X``. ``X`` is a
slice of the feature dataset in time order (``timestamp``, the feature columns and ``rv``,
never the ``target``); ``y`` is the target on the same rows. Sequential models (EWMA, GARCH)
carry their state through ``X`` in order, so the forecast on row ``t`` depends on rows
``<= t`` only: pass the history, not a shuffled or gappy frame.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import ClassVar, Final, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from volcast.errors import ModelError
from volcast.schemas import TIMESTAMP


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[object]:
    """Limit BLAS to one thread within the block (small least-squares problems, model fits
    that run in threads side by side). ``threadpool_limits`` would scan the loaded native
    libraries on every call (some 20 ms, a second or two over a walk-forward's refits); the
    controller scans once."""
    limiter: AbstractContextManager[object] = _threadpools().limit(limits=1, user_api="blas")
    return limiter


RV_COLUMN: Final = "rv"
"""Floored per-bar variance of bar ``t`` (the quantity every forecast is in units of)."""
TARGET_COLUMN: Final = "target"
LOG_RETURN_COLUMN: Final = "log_return"
NON_FEATURE_COLUMNS: Final = frozenset(
    {TIMESTAMP, TARGET_COLUMN, RV_COLUMN, "close", "next_return"}
)
"""Columns of a dataset that are not features: ``rv`` is the bar's variance, which the
features already hold as ``log_rv`` (models that read ``rv`` ask for it by name); ``close``
and ``next_return`` come with the return and direction targets (the next return is the
label's source, never an input)."""


class VolatilityModel(BaseEstimator, ABC):  # type: ignore[misc]
    """Base of every forecaster: next-bar variance from the feature dataset.

    Subclasses set ``name`` and implement :meth:`fit` and :meth:`predict`; learned state ends
    in ``_`` and ``__init__`` only assigns its arguments.
    """

    name: ClassVar[str]
    sequential: ClassVar[bool] = False
    """True when a forecast depends on earlier rows of ``X`` (state carried in order): such a
    model must be given the history, a row-wise one may be given only the rows to forecast."""
    concurrent_refits: ClassVar[bool] = False
    """True when a fit depends on its ``X, y`` only (never on an earlier fit) and spends its
    time in native code that releases the GIL: a walk-forward may then fit the folds of
    fresh copies concurrently in threads, with identical results."""

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Learn from the rows of ``X`` (time order) and their targets ``y``."""

    @abstractmethod
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Strictly positive variance forecast for the bar after each row of ``X``."""


def same_spec(a: object, b: object) -> bool:
    """Whether two models are the same specification: class and parameters, nested models
    (a LightGBM's HAR base, a combination's members) compared the same way, not by identity."""
    if isinstance(a, BaseEstimator) and isinstance(b, BaseEstimator):
        if type(a) is not type(b):
            return False
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        return pa.keys() == pb.keys() and all(same_spec(pa[k], pb[k]) for k in pa)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same_spec(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def feature_columns(X: pd.DataFrame) -> list[str]:
    """The feature columns of a dataset slice when none are named explicitly.

    Every numeric column except ``timestamp``, ``rv`` and ``target``: for a frame from
    :func:`volcast.features.build_dataset` exactly the builder's ``feature_names``, in order.
    """
    return [
        str(c)
        for c in X.columns
        if c not in NON_FEATURE_COLUMNS and pd.api.types.is_numeric_dtype(X[c])
    ]


def require_columns(X: pd.DataFrame, columns: Sequence[str], *, model: str) -> None:
    """Raise :class:`ModelError` naming the columns of ``columns`` that ``X`` lacks."""
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ModelError(f"model {model!r} needs the column(s) {missing} in X", model=model)


def check_target(X: pd.DataFrame, y: pd.Series, *, model: str) -> np.ndarray:
    """``y`` as float64 after checking it matches ``X`` and is strictly positive and finite."""
    if len(X) != len(y):
        raise ModelError(
            f"X has {len(X)} rows but y has {len(y)}; pass the target of the same rows",
            model=model,
        )
    if len(y) == 0:
        raise ModelError("cannot fit on an empty training set", model=model)
    values = np.asarray(y, dtype="float64")
    if not np.all(np.isfinite(values)) or np.any(values <= 0.0):
        bad = int(np.sum(~np.isfinite(values) | (values <= 0.0)))
        raise ModelError(
            f"target has {bad} non-positive or non-finite value(s); floor it (TargetParams.floor)"
            " and drop unlabelled rows before fitting",
            model=model,
        )
    return values


def column(X: pd.DataFrame, name: str, *, model: str) -> np.ndarray:
    """Column ``name`` of ``X`` as float64, raising :class:`ModelError` when it is absent."""
    require_columns(X, [name], model=model)
    return X[name].to_numpy(dtype="float64")


def finalize(forecast: np.ndarray, *, floor: float, model: str) -> np.ndarray:
    """Clip the forecast at ``floor`` and raise :class:`ModelError` on non-finite values.

    ``floor`` is the smallest target seen in training: no variance below it was ever realised.
    """
    out = np.asarray(forecast, dtype="float64")
    if not np.all(np.isfinite(out)):
        bad = int(np.sum(~np.isfinite(out)))
        raise ModelError(
            f"{bad} non-finite forecast(s); X has missing feature values (drop warm-up rows)",
            model=model,
        )
    clipped: np.ndarray = np.maximum(out, floor)
    return clipped
