"""LightGBM for the return and direction targets, calibrated on a held-out tail (SPEC 20).

See :mod:`volcast.models.targets` for the calibration and shrinkage rules.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Final, Self

import lightgbm as lgb
import numpy as np
import pandas as pd

from volcast.errors import ModelError
from volcast.models.base import feature_columns, require_columns
from volcast.models.target_baselines import (
    BaseRateModel,
    TargetKind,
    TargetModel,
    _clip_probability,
    _labels,
)

MIN_T: Final = 2.0
"""Smallest t statistic of the calibration slope that keeps the learned signal."""
MIN_CALIBRATION_ROWS: Final = 100
"""Fewer held-out rows than this: no calibration, the naive forecast is served."""
_EPS: Final = 1e-6


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
