"""Classical baselines: persistence, EWMA (RiskMetrics), GARCH(1,1); HAR is in ``har``.

They are the bar every learned model has to clear (SPEC 7); each forecasts the variance of
the next bar in the units of ``rv`` (the floored per-bar variance, Garman-Klass by default).
"""

from __future__ import annotations

import threading
import warnings
from typing import ClassVar, Final, Self

import numpy as np
import pandas as pd
from arch import arch_model
from scipy.signal import lfilter

from volcast.errors import ModelError
from volcast.models.base import (
    LOG_RETURN_COLUMN,
    RV_COLUMN,
    VolatilityModel,
    check_target,
    column,
    finalize,
    one_blas_thread,
    require_columns,
)

# HAR has its own module; models pickled as volcast.models.baselines.HarModel still load
from volcast.models.har import HarModel

_TINY: Final = 1e-300
_GARCH_FIT: Final = threading.Lock()

__all__ = ["EwmaModel", "GarchModel", "HarModel", "PersistenceModel"]


class PersistenceModel(VolatilityModel):
    """Random walk on variance: the forecast for the next bar is this bar's ``rv``.

    With ``horizon`` > 1 the target sums ``horizon`` bars, so the forecast is ``horizon * rv``.
    """

    name: ClassVar[str] = "persistence"

    def __init__(self, *, horizon: int = 1) -> None:
        self.horizon = horizon

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Check the inputs and remember the smallest target (the forecast floor)."""
        values = check_target(X, y, model=self.name)
        require_columns(X, [RV_COLUMN], model=self.name)
        self.floor_ = float(values.min())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """``horizon * rv`` of each row (not clipped: ``rv`` is floored by the dataset)."""
        rv = column(X, RV_COLUMN, model=self.name)
        return finalize(self.horizon * rv, floor=_TINY, model=self.name)


class EwmaModel(VolatilityModel):
    """RiskMetrics exponentially weighted moving average of ``rv``.

    ``s_t = lam * s_{t-1} + (1 - lam) * rv_t`` run through ``X`` in order, started at the
    mean training ``rv``; the forecast made at ``t`` is ``horizon * s_t`` (rows ``<= t`` only).
    """

    name: ClassVar[str] = "ewma"
    sequential: ClassVar[bool] = True

    def __init__(self, *, lam: float = 0.94, horizon: int = 1) -> None:
        self.lam = lam
        self.horizon = horizon

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Learn the starting level (mean training ``rv``) and the forecast floor."""
        if not 0.0 < self.lam < 1.0:
            raise ModelError(f"EWMA lambda must be in (0, 1), got {self.lam}", model=self.name)
        values = check_target(X, y, model=self.name)
        rv = column(X, RV_COLUMN, model=self.name)
        self.init_variance_ = float(np.nanmean(rv))
        self.floor_ = float(values.min())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The filtered EWMA level at every row of ``X``, scaled to the horizon."""
        rv = column(X, RV_COLUMN, model=self.name)
        level = lfilter(
            [1.0 - self.lam], [1.0, -self.lam], rv, zi=[self.lam * self.init_variance_]
        )[0]
        return finalize(self.horizon * level, floor=self.floor_, model=self.name)


class GarchModel(VolatilityModel):
    """GARCH(1,1) with Student-t errors (``arch``) on scaled log returns, calibrated to the
    target's units.

    Returns are scaled to unit standard deviation before fitting (``arch`` optimises poorly on
    hourly magnitudes). The forecast made at ``t`` is the one-step conditional variance
    ``omega + alpha * eps_t^2 + beta * sigma_t^2`` filtered through ``X`` with the fitted
    parameters. Return variance and the target (Garman-Klass by default) differ in level, so
    the forecast is multiplied by ``calibration_ = mean(y / h)`` over the training rows, the
    scale factor that minimises QLIKE. With ``warm_start`` a refit starts the optimiser from
    the previous fit's parameters, which makes walk-forward refits fast. ``dist`` is the
    error distribution, ``t`` (Student-t, the fat-tailed textbook choice; its degrees of
    freedom are estimated) or ``normal`` (Gaussian QML).
    """

    name: ClassVar[str] = "garch"
    sequential: ClassVar[bool] = True
    params_: tuple[float, float, float]
    scale_: float
    dist: str = "normal"  # what models pickled before ``dist`` existed were fitted with
    dist_params_: tuple[float, ...] = ()

    def __init__(self, *, horizon: int = 1, warm_start: bool = True, dist: str = "t") -> None:
        self.horizon = horizon
        self.warm_start = warm_start
        self.dist = dist

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """Estimate omega, alpha, beta (and the t's nu) by ML, then the calibration to ``y``."""
        if self.dist not in ("t", "normal"):
            raise ModelError(f"GARCH dist must be 't' or 'normal', got {self.dist!r}")
        values = check_target(X, y, model=self.name)
        returns = column(X, LOG_RETURN_COLUMN, model=self.name)
        finite = returns[np.isfinite(returns)]
        if finite.size < 50:
            raise ModelError(
                f"GARCH needs at least 50 finite log returns, got {finite.size}", model=self.name
            )
        std = float(np.std(finite))
        if not std > 0.0:
            raise ModelError("log returns are constant; GARCH cannot be fitted", model=self.name)
        scale = 1.0 / std
        starting = None
        if self.warm_start and hasattr(self, "params_") and hasattr(self, "dist_params_"):
            previous = np.array([*self.params_, *self.dist_params_], dtype="float64")
            previous[0] *= (scale / self.scale_) ** 2  # omega is in scaled units squared
            if previous.size == 3 + (self.dist == "t"):
                starting = previous
        am = arch_model(
            finite * scale,
            mean="Zero",
            vol="GARCH",
            p=1,
            q=1,
            dist="t" if self.dist == "t" else "normal",
            rescale=False,
        )
        # one BLAS thread: the optimum then does not depend on what else runs (LightGBM folds)
        # one fit at a time: ``catch_warnings`` swaps the process-wide filters and is not
        # thread-safe (a combination's inner and final members are fitted side by side)
        with _GARCH_FIT, warnings.catch_warnings(), one_blas_thread():
            warnings.simplefilter("ignore")  # convergence notes; the result is checked below
            result = am.fit(disp="off", starting_values=starting, show_warning=False)
        params = np.asarray(result.params, dtype="float64")
        if not np.all(np.isfinite(params)):
            raise ModelError(f"GARCH fit gave non-finite parameters {params}", model=self.name)
        omega, alpha, beta = (float(p) for p in params[:3])
        self.dist_params_ = tuple(float(p) for p in params[3:])  # the t's nu
        persistence = alpha + beta
        self.scale_ = scale
        self.params_ = (omega, alpha, beta)
        self.init_variance_ = omega / (1.0 - persistence) if persistence < 1.0 else 1.0
        self.converged_ = int(result.convergence_flag) == 0
        self.floor_ = float(values.min())
        raw = self._filter(returns)
        self.calibration_ = float(np.mean(values / raw))
        return self

    def _filter(self, returns: np.ndarray) -> np.ndarray:
        """One-step conditional variance in return units (unscaled), per row."""
        omega, alpha, beta = self.params_
        eps2 = np.nan_to_num(returns * self.scale_, nan=0.0) ** 2
        sigma2_next = lfilter(
            [1.0], [1.0, -beta], omega + alpha * eps2, zi=[beta * self.init_variance_]
        )[0]
        variance: np.ndarray = np.maximum(sigma2_next, _TINY) / self.scale_**2 * self.horizon
        return variance

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated one-step GARCH variance at every row of ``X`` (rows ``<= t`` only)."""
        returns = column(X, LOG_RETURN_COLUMN, model=self.name)
        return finalize(
            self.calibration_ * self._filter(returns), floor=self.floor_, model=self.name
        )

    def coefficients(self) -> pd.Series:
        """omega (scaled units), alpha, beta, the scale and the calibration factor."""
        omega, alpha, beta = self.params_
        return pd.Series(
            {
                "omega": omega,
                "alpha": alpha,
                "beta": beta,
                "scale": self.scale_,
                "calibration": self.calibration_,
                **({"nu": self.dist_params_[0]} if self.dist_params_ else {}),
            }
        )
