"""The return and direction baselines and the base class of their models (SPEC 20).

See :mod:`volcast.models.targets` for the targets and the candidates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from volcast.errors import ModelError
from volcast.models.base import LOG_RETURN_COLUMN, require_columns
from volcast.schemas import TIMESTAMP

TargetKind = Literal["return", "direction"]


class TargetModel(BaseEstimator, ABC):  # type: ignore[misc]
    """Base of the return and direction forecasters (row-wise: no state carried in order)."""

    name: ClassVar[str]
    kind: ClassVar[TargetKind]
    sequential: ClassVar[bool] = False

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Learn from the rows of ``X`` (time order) and their targets ``y``."""

    @abstractmethod
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """A log return (``return``) or a probability in (0, 1) (``direction``) per row."""


def _labels(X: pd.DataFrame, y: pd.Series, *, model: str) -> np.ndarray:
    if len(X) != len(y):
        raise ModelError(f"X has {len(X)} rows but y has {len(y)}", model=model)
    if len(y) == 0:
        raise ModelError("cannot fit on an empty training set", model=model)
    values = np.asarray(y, dtype="float64")
    if not np.all(np.isfinite(values)):
        raise ModelError("target has non-finite values; drop unlabelled rows", model=model)
    return values


def _clip_probability(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype="float64"), 0.001, 0.999)


class ZeroReturnModel(TargetModel):
    """The random walk: a zero log return, so the next close forecast is this close."""

    name: ClassVar[str] = "zero"
    kind: ClassVar[TargetKind] = "return"

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        _labels(X, y, model=self.name)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X))


class BaseRateModel(TargetModel):
    """The share of up bars known before each bar: the expanding base rate.

    ``fit`` counts the up moves among the training labels; ``predict`` adds the up moves seen
    in ``X`` after the training rows (a row's ``log_return`` is the previous row's outcome),
    so on a walk-forward it is the expanding base rate at every bar, the floor the issue
    sets for a direction model. On a single row (serving) it is the training rate.
    Sequential: it reads the rows before each forecast.
    """

    name: ClassVar[str] = "base_rate"
    kind: ClassVar[TargetKind] = "direction"
    sequential: ClassVar[bool] = True

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        labels = _labels(X, y, model=self.name)
        self.ups_ = float(np.sum(labels))
        self.n_ = float(len(labels))
        self.rate_ = self.ups_ / self.n_
        self.last_ = X[TIMESTAMP].iloc[-1] if TIMESTAMP in X.columns else None
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        ups = np.full(len(X), self.ups_)
        n = np.full(len(X), self.n_)
        if self.last_ is not None and TIMESTAMP in X.columns and LOG_RETURN_COLUMN in X.columns:
            later = (X[TIMESTAMP] > self.last_).to_numpy()
            # the first later row's return is the last training row's label: counted already
            first = int(np.argmax(later)) if later.any() else len(X)
            known = np.zeros(len(X))
            known[first + 1 :] = 1.0
            up = (X[LOG_RETURN_COLUMN].to_numpy(dtype="float64") > 0.0) * known
            ups = ups + np.cumsum(up)
            n = n + np.cumsum(known)
        return _clip_probability(ups / n)


def return_lag_columns() -> list[str]:
    """The latest log returns, newest first: ``log_return``, ``log_return_lag_1``, ..."""
    from volcast.features.builder import RETURN_LAGS

    return [LOG_RETURN_COLUMN, *(f"log_return_lag_{k}" for k in range(1, RETURN_LAGS))]


class LogisticLagModel(TargetModel):
    """Logistic regression of the next bar's direction on the latest log returns.

    Returns are divided by their training standard deviation; L2 penalty ``C``.
    """

    name: ClassVar[str] = "logistic"
    kind: ClassVar[TargetKind] = "direction"

    def __init__(self, *, C: float = 0.1) -> None:
        self.C = C

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        labels = _labels(X, y, model=self.name)
        columns = return_lag_columns()
        require_columns(X, columns, model=self.name)
        values = X[columns].to_numpy(dtype="float64")
        self.scale_ = float(np.std(values[:, 0])) or 1.0
        if len(np.unique(labels)) < 2:
            self.constant_: float | None = float(labels[0])
            return self
        self.constant_ = None
        self.model_ = LogisticRegression(C=self.C, max_iter=200).fit(
            values / self.scale_, labels.astype("int64")
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.constant_ is not None:
            return _clip_probability(np.full(len(X), self.constant_))
        values = X[return_lag_columns()].to_numpy(dtype="float64") / self.scale_
        return _clip_probability(self.model_.predict_proba(values)[:, 1])
