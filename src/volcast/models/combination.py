"""Forecast combination: a QLIKE-optimal geometric blend of other models."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import clone

from volcast.errors import ModelError
from volcast.models.base import (
    VolatilityModel,
    check_target,
    finalize,
    one_blas_thread,
    require_columns,
    same_spec,
)
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
    # one BLAS thread: a threaded matrix-vector product may sum in a different order when
    # other fits run alongside, and the optimiser's path (so the weights) then moves slightly
    with one_blas_thread():
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
    def _member_logs(models: Sequence[VolatilityModel], X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.log(m.predict(X)) for m in models])

    def _extends_previous_fit(self, X: pd.DataFrame) -> bool:
        if not (self.warm_start and hasattr(self, "members_")):
            return False
        n_prev = self.n_train_
        if len(X) <= n_prev + self.horizon:
            return False
        return bool(X[TIMESTAMP].iloc[n_prev - 1] == self.train_end_)

    def _validation_set(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        values: np.ndarray,
        *,
        extends: bool,
        new_logs: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        n = len(X)
        if extends:
            # rows whose target closed after the previous fit's last target: unseen by members_
            first = self.n_train_ + self.horizon
            log_f = self._member_logs(self.members_, X)[first:] if new_logs is None else new_logs
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

    def _check_inputs(self, X: pd.DataFrame, y: pd.Series) -> np.ndarray:
        values = check_target(X, y, model=self.name)
        if not self.members:
            raise ModelError("a combination needs at least one member model", model=self.name)
        require_columns(X, [TIMESTAMP], model=self.name)
        return values

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Fit the weights on out-of-sample member forecasts, then the members on every row."""
        values = self._check_inputs(X, y)
        extends = self._extends_previous_fit(X)
        if extends:
            validation = self._validation_set(X, y, values, extends=True)
            # on a warm start the members are refitted in place, so GARCH warm-starts too
            fitted = [m.fit(X, y) for m in self.members_]
            return self._fit_blend(X, values, fitted, validation)
        # a first fit: the inner members (validation) and the final ones are independent
        # fits of fresh copies, so the two sets run side by side (LightGBM releases the
        # GIL); one BLAS thread for the whole block keeps every fit's sums as when serial
        members = [clone(m) for m in self.members]
        with one_blas_thread(), ThreadPoolExecutor(max_workers=1) as pool:
            inner = pool.submit(self._validation_set, X, y, values, extends=False)
            fitted = [m.fit(X, y) for m in members]
            validation = inner.result()
        return self._fit_blend(X, values, fitted, validation)

    def fit_shared(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        *,
        fitted: Sequence[VolatilityModel],
        oos_forecasts: np.ndarray,
    ) -> Self:
        """Fit the blend on members another caller has already fitted on ``X, y``.

        For a walk-forward that backtests the members as candidates too, so that each is
        fitted once per fold; the result is identical to :meth:`fit` given the same history.
        ``fitted`` holds, in the order of ``members``, models of the same class and
        parameters fitted on exactly ``X, y`` (kept as ``members_`` by reference, not
        copied: refitting them later changes this combination). ``oos_forecasts`` (one row
        per row of ``X``, one column per member, NaN where unknown) holds forecasts each
        member made for a row by a fit on earlier rows only; a warm refit reads the rows
        its previous members never saw (the last test block less the purge gap) and raises
        :class:`ModelError` if any of them is missing. A first fit still fits its own
        members on the inner training rows.
        """
        values = self._check_inputs(X, y)
        fitted = list(fitted)
        self._check_shared_members(fitted)
        forecasts = np.asarray(oos_forecasts, dtype="float64")
        if forecasts.shape != (len(X), len(fitted)):
            raise ModelError(
                f"oos_forecasts has shape {forecasts.shape}; expected one row per row of X and"
                f" one column per member, {(len(X), len(fitted))}",
                model=self.name,
            )
        extends = self._extends_previous_fit(X)
        new_logs = None
        if extends:
            new = forecasts[self.n_train_ + self.horizon :]
            if not np.all(np.isfinite(new) & (new > 0.0)):
                raise ModelError(
                    f"oos_forecasts lacks positive out-of-sample forecasts for rows"
                    f" {self.n_train_ + self.horizon}..{len(X) - 1}, which the warm refit"
                    " scores the previous members on",
                    model=self.name,
                )
            new_logs = np.log(new)
        validation = self._validation_set(X, y, values, extends=extends, new_logs=new_logs)
        return self._fit_blend(X, values, fitted, validation)

    def _check_shared_members(self, fitted: Sequence[VolatilityModel]) -> None:
        if len(fitted) != len(self.members):
            raise ModelError(
                f"got {len(fitted)} fitted member(s) for {len(self.members)} member(s)",
                model=self.name,
            )
        for spec, model in zip(self.members, fitted, strict=True):
            if not same_spec(spec, model):
                raise ModelError(
                    f"fitted member {model!r} does not match the configured member {spec!r}",
                    model=self.name,
                )

    def _fit_blend(
        self,
        X: pd.DataFrame,
        values: np.ndarray,
        fitted: list[VolatilityModel],
        validation: tuple[np.ndarray, np.ndarray] | None,
    ) -> Self:
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

    def combine(self, member_forecasts: np.ndarray) -> np.ndarray:
        """The blended forecast from the members' forecasts (rows x ``members_``, in order).

        Row-wise: a row's result depends on that row only, whatever other rows are passed.
        """
        log_f = np.log(np.asarray(member_forecasts, dtype="float64"))
        log_g = np.zeros(log_f.shape[0])
        for j, weight in enumerate(self.weights_.to_numpy()):
            log_g = log_g + weight * log_f[:, j]  # elementwise: no batch-dependent BLAS sums
        return finalize(self.scale_ * np.exp(log_g), floor=self.floor_, model=self.name)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """``scale * exp(sum_i w_i log f_i)`` per row."""
        return self.combine(np.column_stack([m.predict(X) for m in self.members_]))

    def feature_importances(self) -> pd.Series:
        """The blend weight of each member."""
        return self.weights_.sort_values(ascending=False)
