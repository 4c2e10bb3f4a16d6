"""Classical baselines: persistence, EWMA (RiskMetrics), GARCH(1,1) and HAR with seasonality.

They are the bar every learned model has to clear (SPEC 7); each forecasts the variance of
the next bar in the units of ``rv`` (the floored per-bar variance, Garman-Klass by default).
"""

from __future__ import annotations

import re
import warnings
from typing import ClassVar, Final, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from volcast.models.linear import least_squares
from volcast.schemas import TIMESTAMP, interval_timedelta

_HAR_RE: Final = re.compile(r"^har_rv_(\d+)$")
_TINY: Final = 1e-300


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
        with warnings.catch_warnings(), one_blas_thread():
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


def har_columns(X: pd.DataFrame) -> list[str]:
    """The ``har_rv_<window>`` columns of ``X``, shortest window first."""
    found = [(int(m.group(1)), str(c)) for c in X.columns if (m := _HAR_RE.match(str(c)))]
    return [name for _, name in sorted(found)]


def seasonal_design(
    timestamps: pd.Series,
    *,
    interval: str,
    horizon: int,
    season: str = "day",
    clock: str = "UTC",
) -> pd.DataFrame:
    """Dummies for the calendar position of the bar being forecast (``t + horizon`` bars).

    ``season="day"``: intraday intervals get hour-of-day and day-of-week dummies (additive),
    daily ones day-of-week, longer ones nothing. ``season="week"``: intraday intervals get
    one dummy per hour of the week (their interaction: Friday 08:00 is its own category),
    read on the wall clock of ``clock`` (an IANA zone), so a session that follows local
    business hours keeps its place across daylight-saving changes; other intervals are as
    for ``"day"``. The first category of each is dropped (the intercept holds it).
    """
    step = interval_timedelta(interval)
    target_time = pd.DatetimeIndex(timestamps) + step * horizon
    if target_time.tz is None:
        target_time = target_time.tz_localize("UTC")
    target_time = target_time.tz_convert(clock)
    blocks: list[tuple[str, np.ndarray, int]] = []  # (prefix, codes, categories)
    if season == "week" and step < pd.Timedelta(days=1):
        codes = target_time.dayofweek.to_numpy() * 24 + target_time.hour.to_numpy()
        blocks.append(("how", codes, 7 * 24))
    else:
        if step < pd.Timedelta(days=1):
            blocks.append(("hour", target_time.hour.to_numpy(), 24))
        if step <= pd.Timedelta(days=1):
            blocks.append(("dow", target_time.dayofweek.to_numpy(), 7))
    # one-hot by indexing an identity matrix: one pass over the rows, not one per category
    matrices = [np.eye(size)[codes][:, 1:] for _, codes, size in blocks]
    names = [f"{prefix}_{k}" for prefix, _, size in blocks for k in range(1, size)]
    values = np.hstack(matrices) if matrices else np.empty((len(target_time), 0))
    return pd.DataFrame(values, columns=names, index=timestamps.index)


SEASONS: Final = ("day", "week")


def check_season(season: str, clock: str, *, model: str) -> None:
    """ModelError unless ``season`` is known and ``clock`` an IANA time zone."""
    if season not in SEASONS:
        raise ModelError(f"season must be one of {SEASONS}, got {season!r}", model=model)
    try:
        ZoneInfo(clock)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ModelError(f"clock {clock!r} is not an IANA time zone", model=model) from exc


class HarModel(VolatilityModel):
    """HAR-RV (Corsi 2009) by OLS on log variance, with seasonal dummies.

    ``log y_t ~ log har_rv_1 + log har_rv_24 + log har_rv_168 + calendar dummies of the
    forecast bar`` (see :func:`seasonal_design`). The forecast is brought back to variance
    with the lognormal bias correction ``exp(0.5 * sigma^2)``, ``sigma^2`` the residual
    variance. ``har_columns=None`` uses every ``har_rv_<window>`` column of ``X``.
    """

    name: ClassVar[str] = "har"

    def __init__(
        self,
        *,
        interval: str = "1h",
        horizon: int = 1,
        har_columns: tuple[str, ...] | None = None,
        seasonal: bool = True,
        season: str = "day",
        clock: str = "UTC",
    ) -> None:
        self.interval = interval
        self.horizon = horizon
        self.har_columns = har_columns
        self.seasonal = seasonal
        self.season = season
        self.clock = clock

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        require_columns(X, self.columns_, model=self.name)
        logs = np.log(np.maximum(X[self.columns_].to_numpy(dtype="float64"), _TINY))
        design = pd.DataFrame(logs, columns=[f"log_{c}" for c in self.columns_], index=X.index)
        if self.seasonal:
            require_columns(X, [TIMESTAMP], model=self.name)
            calendar = seasonal_design(
                X[TIMESTAMP],
                interval=self.interval,
                horizon=self.horizon,
                # models pickled before these parameters existed read their defaults
                season=getattr(self, "season", "day"),
                clock=getattr(self, "clock", "UTC"),
            )
            design = pd.concat([design, calendar], axis=1)
        return design

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """OLS of log target on the log HAR components and the seasonal dummies."""
        values = check_target(X, y, model=self.name)
        check_season(self.season, self.clock, model=self.name)
        columns = list(self.har_columns) if self.har_columns else har_columns(X)
        if not columns:
            raise ModelError("X has no har_rv_<window> columns for the HAR model", model=self.name)
        self.columns_ = columns
        design = self._design(X)
        if not np.all(np.isfinite(design.to_numpy())):
            raise ModelError("HAR inputs hold missing values; drop warm-up rows", model=self.name)
        log_y = np.log(values)
        # a small least-squares problem: BLAS threads only add contention
        matrix = design.to_numpy(dtype="float64")
        with one_blas_thread():
            intercept, coef = least_squares(matrix, log_y)
        residuals = log_y - intercept - matrix @ coef
        dof = max(len(log_y) - design.shape[1] - 1, 1)
        self.intercept_, self.coef_ = intercept, coef
        self.design_columns_ = list(design.columns)
        self.sigma2_ = float(np.sum(residuals**2) / dof)
        self.floor_ = float(values.min())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """``exp(fitted log variance + sigma^2 / 2)`` per row."""
        design = self._design(X).to_numpy()
        # summed column by column, so a row's forecast does not depend on the other rows
        # passed (a BLAS matrix-vector product may sum differently at the edge of a block)
        intercept, coefs = self._ols()
        log_f = np.full(len(design), intercept)
        for j, coef in enumerate(coefs):
            log_f = log_f + coef * design[:, j]
        forecast = np.exp(log_f + 0.5 * self.sigma2_)
        return finalize(forecast, floor=self.floor_, model=self.name)

    def _ols(self) -> tuple[float, np.ndarray]:
        # models pickled before ``least_squares`` kept a scikit-learn ``LinearRegression``
        legacy = self.__dict__.get("ols_")
        if legacy is not None:
            return float(legacy.intercept_), np.asarray(legacy.coef_, dtype="float64")
        return float(self.intercept_), np.asarray(self.coef_, dtype="float64")

    def coefficients(self) -> pd.Series:
        """Intercept and OLS coefficients by design column."""
        value, slopes = self._ols()
        coefs = pd.Series(slopes, index=self.design_columns_, dtype="float64")
        intercept = pd.Series({"intercept": value}, dtype="float64")
        combined: pd.Series = pd.concat([intercept, coefs])
        return combined

    def feature_importances(self) -> pd.Series:
        """Absolute coefficients of the log HAR components (the calendar dummies left out)."""
        coefs = self.coefficients()
        return coefs[[f"log_{c}" for c in self.columns_]].abs().sort_values(ascending=False)
