"""HAR-RV (Corsi 2009) with calendar dummies: the design, the model and its OLS fit.

Split from :mod:`volcast.models.baselines`, which re-exports :class:`HarModel` so models
pickled under that module path still load.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from volcast.errors import ModelError
from volcast.models.base import (
    VolatilityModel,
    check_target,
    finalize,
    one_blas_thread,
    require_columns,
)
from volcast.models.linear import least_squares_one_hot, one_hot
from volcast.schemas import TIMESTAMP, interval_timedelta

_HAR_RE: Final = re.compile(r"^har_rv_(\d+)$")
_TINY: Final = 1e-300


def har_columns(X: pd.DataFrame) -> list[str]:
    """The ``har_rv_<window>`` columns of ``X``, shortest window first."""
    found = [(int(m.group(1)), str(c)) for c in X.columns if (m := _HAR_RE.match(str(c)))]
    return [name for _, name in sorted(found)]


def calendar_codes(
    timestamps: pd.Series,
    *,
    interval: str,
    horizon: int,
    season: str = "day",
    clock: str = "UTC",
) -> list[tuple[str, np.ndarray, int]]:
    """``(prefix, category per row, categories)`` of each block of :func:`seasonal_design`."""
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
    return blocks


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
    blocks = calendar_codes(
        timestamps, interval=interval, horizon=horizon, season=season, clock=clock
    )
    matrices = [one_hot(codes, size) for _, codes, size in blocks]
    names = [f"{prefix}_{k}" for prefix, _, size in blocks for k in range(1, size)]
    values = np.hstack(matrices) if matrices else np.empty((len(timestamps), 0))
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

    def _logs(self, X: pd.DataFrame) -> np.ndarray:
        require_columns(X, self.columns_, model=self.name)
        values = X[self.columns_].to_numpy(dtype="float64")
        return np.asarray(np.log(np.maximum(values, _TINY)), dtype="float64")

    def _calendar(self, X: pd.DataFrame) -> list[tuple[str, np.ndarray, int]]:
        if not self.seasonal:
            return []
        require_columns(X, [TIMESTAMP], model=self.name)
        return calendar_codes(
            X[TIMESTAMP],
            interval=self.interval,
            horizon=self.horizon,
            # models pickled before these parameters existed read their defaults
            season=getattr(self, "season", "day"),
            clock=getattr(self, "clock", "UTC"),
        )

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        """The regressors of each row: log HAR components, then the calendar dummies."""
        logs = self._logs(X)
        design = pd.DataFrame(logs, columns=[f"log_{c}" for c in self.columns_], index=X.index)
        blocks = self._calendar(X)
        if blocks:
            names = [f"{prefix}_{k}" for prefix, _, size in blocks for k in range(1, size)]
            dummies = np.hstack([one_hot(codes, size) for _, codes, size in blocks])
            design = pd.concat(
                [design, pd.DataFrame(dummies, columns=names, index=X.index)], axis=1
            )
        return design

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Self:
        """OLS of log target on the log HAR components and the seasonal dummies."""
        values = check_target(X, y, model=self.name)
        check_season(self.season, self.clock, model=self.name)
        columns = list(self.har_columns) if self.har_columns else har_columns(X)
        if not columns:
            raise ModelError("X has no har_rv_<window> columns for the HAR model", model=self.name)
        self.columns_ = columns
        logs = self._logs(X)
        if not np.all(np.isfinite(logs)):
            raise ModelError("HAR inputs hold missing values; drop warm-up rows", model=self.name)
        blocks = self._calendar(X)
        codes = [(block, size) for _, block, size in blocks]
        log_y = np.log(values)
        # a small least-squares problem: BLAS threads only add contention
        with one_blas_thread():
            intercept, coef = least_squares_one_hot(logs, codes, log_y)
        k = logs.shape[1]
        fitted = intercept + logs @ coef[:k]
        start = k
        for block, size in codes:  # a dummy's coefficient, looked up by each row's category
            fitted = fitted + np.r_[0.0, coef[start : start + size - 1]][block]
            start += size - 1
        residuals = log_y - fitted
        dof = max(len(log_y) - len(coef) - 1, 1)
        self.intercept_, self.coef_ = intercept, coef
        self.__dict__.pop("ols_", None)  # a refit of a model pickled with scikit-learn's fit
        self.design_columns_ = [f"log_{c}" for c in columns] + [
            f"{prefix}_{j}" for prefix, _, size in blocks for j in range(1, size)
        ]
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
