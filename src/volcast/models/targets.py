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

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from volcast.config import TrainParams
from volcast.errors import ConfigError, ModelError
from volcast.models.base import LOG_RETURN_COLUMN, feature_columns, require_columns
from volcast.schemas import TIMESTAMP

TargetKind = Literal["return", "direction"]

MIN_T: Final = 2.0
"""Smallest t statistic of the calibration slope that keeps the learned signal."""
MIN_CALIBRATION_ROWS: Final = 100
"""Fewer held-out rows than this: no calibration, the naive forecast is served."""
_EPS: Final = 1e-6


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


def _booster_params(params: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    base: dict[str, Any] = {"n_jobs": 1, "max_bin": 63, "force_col_wise": True, "verbose": -1}
    base.update(params or {})
    base.update({"random_state": seed, "deterministic": True})
    return base


def _slope_t(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """No-intercept least-squares slope of ``y`` on ``x`` and its t statistic."""
    sxx = float(np.dot(x, x))
    if sxx <= 0.0 or len(x) < 3:
        return 0.0, 0.0
    slope = float(np.dot(x, y)) / sxx
    resid = y - slope * x
    se = math.sqrt(float(np.dot(resid, resid)) / (len(x) - 1) / sxx)
    return slope, (slope / se if se > 0 else 0.0)


def _platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Logistic fit ``P(y=1) = sigmoid(a + b z)`` by Newton steps: ``(a, b, t of b)``."""
    design = np.column_stack([np.ones_like(z), z])
    rate = float(np.clip(np.mean(y), _EPS, 1 - _EPS))
    beta = np.array([math.log(rate / (1 - rate)), 0.0])
    hessian = np.eye(2)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        w = p * (1 - p)
        hessian = design.T @ (design * w[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    cov = np.linalg.inv(hessian)
    se = math.sqrt(max(float(cov[1, 1]), 0.0))
    return float(beta[0]), float(beta[1]), (float(beta[1]) / se if se > 0 else 0.0)


def _halves(n: int) -> list[tuple[slice, slice]]:
    """The two (fit, check) splits of ``n`` held-out rows: first half / second, and back."""
    mid = n // 2
    return [(slice(0, mid), slice(mid, n)), (slice(mid, n), slice(0, mid))]


def _slope_validates(raw: np.ndarray, y: np.ndarray) -> bool:
    """Whether a slope fitted on each half of the held-out rows beats a zero forecast (MSE)
    on the other half: the signal must hold out of sample inside the tail itself."""
    for fit, check in _halves(len(y)):
        slope, _ = _slope_t(raw[fit], y[fit])
        slope = min(max(slope, 0.0), 1.0)
        if np.mean((y[check] - slope * raw[check]) ** 2) >= np.mean(y[check] ** 2):
            return False
    return True


def _platt_validates(z: np.ndarray, y: np.ndarray, prior: np.ndarray) -> bool:
    """Whether a Platt fit on each half of the held-out rows has a lower Brier score on the
    other half than the base-rate forecast ``prior``."""
    for fit, check in _halves(len(y)):
        a, b, _ = _platt(z[fit], y[fit])
        p = 1.0 / (1.0 + np.exp(-(a + max(b, 0.0) * z[check])))
        if np.mean((p - y[check]) ** 2) >= np.mean((prior[check] - y[check]) ** 2):
            return False
    return True


class _HeldOutBooster(TargetModel):
    """LightGBM on the head of the training rows, calibrated on the held-out tail."""

    def __init__(
        self,
        *,
        params: dict[str, Any] | None = None,
        features: tuple[str, ...] | None = None,
        seed: int = 42,
        holdout: float = 0.25,
    ) -> None:
        self.params = params
        self.features = features
        self.seed = seed
        self.holdout = holdout

    def _columns(self, X: pd.DataFrame) -> list[str]:
        return list(self.features) if self.features is not None else feature_columns(X)

    def _split(self, X: pd.DataFrame, labels: np.ndarray) -> int:
        """Index of the first calibration row (the row before it is purged)."""
        if not 0.0 < self.holdout < 1.0:
            raise ModelError(f"holdout {self.holdout} must lie in (0, 1)", model=self.name)
        return len(X) - int(len(X) * self.holdout)

    def feature_importances(self) -> pd.Series:
        """Split gain of each feature (for the run's artefacts)."""
        booster = self.booster_.booster_
        gain = booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=booster.feature_name()).sort_values(ascending=False)


class LightGbmReturnModel(_HeldOutBooster):
    """LightGBM regression of the next log return, scaled by its held-out slope (or zero)."""

    name: ClassVar[str] = "lightgbm_return"
    kind: ClassVar[TargetKind] = "return"

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        labels = _labels(X, y, model=self.name)
        columns = self._columns(X)
        require_columns(X, columns, model=self.name)
        cut = self._split(X, labels)
        head = slice(0, max(cut - 1, 1))
        self.booster_ = lgb.LGBMRegressor(**_booster_params(self.params, self.seed))
        self.booster_.fit(X[columns].iloc[head], labels[head])
        self.columns_ = columns
        tail = labels[cut:]
        self.slope_, self.t_stat_ = 0.0, 0.0
        if len(tail) >= MIN_CALIBRATION_ROWS:
            raw = np.asarray(self.booster_.predict(X[columns].iloc[cut:]), dtype="float64")
            slope, t_stat = _slope_t(raw, tail)
            self.t_stat_ = t_stat
            if slope > 0 and t_stat >= MIN_T and _slope_validates(raw, tail):
                self.slope_ = min(slope, 1.0)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.slope_ == 0.0:
            return np.zeros(len(X))
        raw = np.asarray(self.booster_.predict(X[self.columns_]), dtype="float64")
        out: np.ndarray = self.slope_ * raw
        return out


class LightGbmDirectionModel(_HeldOutBooster):
    """LightGBM binary classifier of an up move, Platt-calibrated on the held-out tail.

    Without signal on the tail (a Platt slope that is not positive with t >= :data:`MIN_T`)
    the forecast is the expanding base rate (:class:`BaseRateModel`).
    """

    name: ClassVar[str] = "lightgbm_direction"
    kind: ClassVar[TargetKind] = "direction"
    sequential: ClassVar[bool] = True  # its no-signal forecast is the expanding base rate

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        labels = _labels(X, y, model=self.name)
        columns = self._columns(X)
        require_columns(X, columns, model=self.name)
        self.columns_ = columns
        self.base_ = BaseRateModel().fit(X, y)
        cut = self._split(X, labels)
        head = slice(0, max(cut - 1, 1))
        self.platt_: tuple[float, float] | None = None
        self.t_stat_ = 0.0
        if len(np.unique(labels[head])) < 2:
            return self
        self.booster_ = lgb.LGBMClassifier(**_booster_params(self.params, self.seed))
        self.booster_.fit(X[columns].iloc[head], labels[head].astype("int64"))
        tail = labels[cut:]
        if len(tail) >= MIN_CALIBRATION_ROWS:
            z = self._log_odds(X.iloc[cut:])
            a, b, t_stat = _platt(z, tail)
            self.t_stat_ = t_stat
            # the training rows' up-rate: it has seen the tail's labels, a stricter bar
            prior = self.base_.predict(X)[cut:]
            if b > 0 and t_stat >= MIN_T and _platt_validates(z, tail, prior):
                self.platt_ = (a, b)
        return self

    def _log_odds(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.asarray(self.booster_.predict_proba(X[self.columns_]), dtype="float64")
        p = _clip_probability(proba[:, 1])
        out: np.ndarray = np.log(p / (1 - p))
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.platt_ is None:
            return self.base_.predict(X)
        a, b = self.platt_
        return _clip_probability(1.0 / (1.0 + np.exp(-(a + b * self._log_odds(X)))))


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
