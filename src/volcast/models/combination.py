"""Forecast combination: a QLIKE-optimal geometric blend of other models."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import clone

from volcast.errors import ModelError
from volcast.models.base import VolatilityModel, check_target, finalize, require_columns
from volcast.schemas import TIMESTAMP

_MIN_VALIDATION = 20
_MIN_INNER_TRAIN = 50


def _blend_loss(weights: np.ndarray, log_f: np.ndarray, y: np.ndarray) -> float:
    """QLIKE of ``c * exp(log_f @ w)`` with its optimal scale ``c = mean(y / g)``."""
    log_g = log_f @ weights
    return float(np.log(np.mean(y * np.exp(-log_g))) + np.mean(log_g) - np.mean(np.log(y)))


def blend_weights(log_f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Simplex weights and scale minimising QLIKE of ``scale * exp(log_f @ w)`` against ``y``."""
    k = log_f.shape[1]
    start = np.full(k, 1.0 / k)
    result = minimize(
        _blend_loss,
        start,
        args=(log_f, y),
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: float(np.sum(w) - 1.0)}],
    )
    weights = np.clip(np.asarray(result.x, dtype="float64"), 0.0, None)
    total = float(weights.sum())
    weights = weights / total if total > 0.0 and np.all(np.isfinite(weights)) else start
    scale = float(np.mean(y * np.exp(-(log_f @ weights))))
    return weights, scale


class CombinationModel(VolatilityModel):
    """Weighted geometric mean of member forecasts, weights fitted on out-of-sample rows.

    Weights are non-negative, sum to one and, with a scale factor, minimise QLIKE of the
    blend on rows the members were not trained on:

    - on a first fit, the last ``validation_fraction`` of the rows are held out, the members
      are fitted on the rows before them less a purge gap of ``horizon`` rows, and their
      forecasts on the held-out rows are the validation set;
    - with ``warm_start``, a refit on a longer history (the same rows plus new ones, as in a
      walk-forward) instead scores the previous members on the new rows, which they never
      saw, and adds them to the validation set kept from earlier fits. That avoids fitting
      every member twice per refit.

    The members are then refitted on all rows. They see the same ``X`` as the combination,
    so sequential members keep their no-look-ahead guarantee.
    """

    name: ClassVar[str] = "combination"
    sequential: ClassVar[bool] = True
    members_: list[VolatilityModel]
    n_train_: int
    validation_log_f_: np.ndarray
    validation_y_: np.ndarray

    def __init__(
        self,
        *,
        members: tuple[VolatilityModel, ...] = (),
        validation_fraction: float = 0.25,
        horizon: int = 1,
        warm_start: bool = True,
    ) -> None:
        self.members = members
        self.validation_fraction = validation_fraction
        self.horizon = horizon
        self.warm_start = warm_start

    @staticmethod
    def _member_logs(models: list[VolatilityModel], X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.log(m.predict(X)) for m in models])

    def _extends_previous_fit(self, X: pd.DataFrame) -> bool:
        if not (self.warm_start and hasattr(self, "members_")):
            return False
        n_prev = self.n_train_
        if len(X) <= n_prev + self.horizon:
            return False
        return bool(X[TIMESTAMP].iloc[n_prev - 1] == self.train_end_)

    def _validation_set(
        self, X: pd.DataFrame, y: pd.Series, values: np.ndarray, *, extends: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        n = len(X)
        if extends:
            # rows whose target closed after the previous fit's last target: unseen by members_
            first = self.n_train_ + self.horizon
            log_f = self._member_logs(self.members_, X)[first:]
            return (
                np.vstack([self.validation_log_f_, log_f]),
                np.concatenate([self.validation_y_, values[first:]]),
            )
        n_val = int(n * self.validation_fraction)
        inner_end = n - n_val - self.horizon
        if n_val < _MIN_VALIDATION or inner_end < _MIN_INNER_TRAIN:
            return None
        inner = [clone(m).fit(X.iloc[:inner_end], y.iloc[:inner_end]) for m in self.members]
        return self._member_logs(inner, X)[n - n_val :], values[n - n_val :]

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Fit the weights on out-of-sample member forecasts, then the members on every row."""
        values = check_target(X, y, model=self.name)
        if not self.members:
            raise ModelError("a combination needs at least one member model", model=self.name)
        require_columns(X, [TIMESTAMP], model=self.name)
        extends = self._extends_previous_fit(X)
        validation = self._validation_set(X, y, values, extends=extends)
        # on a warm start the members are refitted in place, so GARCH warm-starts too
        members = self.members_ if extends else [clone(m) for m in self.members]
        fitted = [m.fit(X, y) for m in members]
        if validation is None:
            log_f, y_val = self._member_logs(fitted, X), values
            self.validation_log_f_ = np.empty((0, len(fitted)))
            self.validation_y_ = np.empty(0)
        else:
            log_f, y_val = validation
            self.validation_log_f_, self.validation_y_ = log_f, y_val
        weights, scale = blend_weights(log_f, y_val)
        self.members_ = fitted
        self.weights_ = pd.Series(weights, index=[m.name for m in fitted], dtype="float64")
        self.scale_ = scale
        self.n_train_ = len(X)
        self.train_end_ = X[TIMESTAMP].iloc[-1]
        self.floor_ = float(values.min())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """``scale * exp(sum_i w_i log f_i)`` per row."""
        log_g = self._member_logs(self.members_, X) @ self.weights_.to_numpy()
        return finalize(self.scale_ * np.exp(log_g), floor=self.floor_, model=self.name)

    def feature_importances(self) -> pd.Series:
        """The blend weight of each member."""
        return self.weights_.sort_values(ascending=False)
