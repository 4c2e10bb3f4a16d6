"""A step in the level of realized volatility, found within a day or two.

A champion that forecasts from recent volatility (HAR, GARCH, LightGBM on range features)
adapts to a new regime within about a day, so its surprises carry little of a shift for
long: the decay CUSUM finds a variance x4 step on real bars late or never (docs/monitoring.md).
:class:`LevelShift` watches the level itself instead. Each bar it compares the mean log
realized variance of the last ``window`` bars with what a HAR-type regression, fitted on
the champion's training history, predicted for that mean from the bars *before* the window:

    D_t = mean(x[t-W+1 .. t]) - (c_0 + sum_j c_j * mean(x[t-W-L_j+1 .. t-W]))

with ``x`` the log realized variance less its hour-of-day profile (intraday bars). Ordinary
clustering is largely predicted by the regression, so ``D`` stays near zero; after a step of
``ln(s)`` it rises by ``ln(s) * n / W`` over the first ``n <= W`` bars of the new regime and
keeps most of that while the regression's long averages catch up.

The alarm lines come from the series' own history (:func:`fit_level`): the lowest lines
above and below zero that ``D`` on the training history crosses at most
``false_alarms`` times per 1,000 bars (crossings less than ``window`` bars apart count
once). A series with a quiet volatility-of-volatility (FX) gets a line near ``ln 2``; a
wild one (BTC) a line that only large shifts cross, which is the honest trade-off between
delay and false alarms on that series (benchmarks/drift.py). The detector is pure state in
river's style: ``update(...) -> self``, read-only attributes, pickles.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError

DEFAULT_LAGS = (1, 24, 168, 720)
"""Averages the regression predicts from, in bars (hourly: the last bar, day, week, month)."""


def _profile_key(at: pd.Timestamp) -> int:
    return int(at.hour)


@dataclass(frozen=True)
class LevelFit:
    """Regression, seasonal profile and alarm lines of a :class:`LevelShift`."""

    coef: tuple[float, ...]  # intercept, then one per lag
    lags: tuple[int, ...]
    window: int
    up: float
    down: float
    profile: dict[int, float] = field(default_factory=dict)
    n_history: int = 0


def _design(x: npt.NDArray[np.float64], lags: Sequence[int]) -> npt.NDArray[np.float64]:
    """Row ``t``: 1 and the mean of ``x`` over the ``lag`` values ending at ``t``."""
    frame = pd.Series(x)
    columns = [np.ones(len(x))]
    columns += [frame.rolling(lag, min_periods=lag).mean().to_numpy() for lag in lags]
    return np.column_stack(columns)


def _window_means(x: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Row ``t``: the mean of ``x[t+1 .. t+window]`` (NaN where it runs off the end)."""
    ahead = pd.Series(x).rolling(window, min_periods=window).mean().shift(-window)
    return ahead.to_numpy()


def level_statistics(x: npt.NDArray[np.float64], fit: LevelFit) -> npt.NDArray[np.float64]:
    """``D`` at every position of the (deseasonalized) series ``x``: what the detector sees."""
    origin = _design(x, fit.lags) @ np.asarray(fit.coef)
    means = _window_means(x, fit.window)
    out = np.full(len(x), np.nan)
    out[fit.window :] = (means - origin)[: len(x) - fit.window]
    return out


def crossings(statistic: npt.NDArray[np.float64], line: float, gap: int) -> int:
    """How many times ``statistic`` rises above ``line``; crossings closer than ``gap`` count
    once (one alarm, however it flickers)."""
    above = np.flatnonzero(np.nan_to_num(statistic, nan=-np.inf) > line)
    if above.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(above) > gap))


def _lowest_line(statistic: npt.NDArray[np.float64], allowed: int, gap: int) -> float:
    """The lowest line that ``statistic`` crosses at most ``allowed`` times, and every higher
    line too (lowering a line can merge two crossings into one: the scan stops at the first
    line, from the top, that crosses too often)."""
    values = statistic[np.isfinite(statistic)]
    top = np.unique(values[values >= max(np.quantile(values, 0.9), 0.0)])[::-1]
    best = float(values.max())
    for line in top:
        if crossings(statistic, float(line), gap) > allowed:
            break
        best = float(line)
    return best


def fit_level(
    values: npt.ArrayLike,
    stamps: pd.DatetimeIndex,
    *,
    window: int = 24,
    lags: Sequence[int] = DEFAULT_LAGS,
    false_alarms: float = 0.5,
    seasonal: bool = True,
) -> LevelFit:
    """Fit the regression and the alarm lines on a history of realized variances.

    ``values`` are positive realized variances in time order, ``stamps`` their bars;
    ``false_alarms`` the crossings per 1,000 history bars each line allows; ``seasonal``
    removes the hour-of-day profile (for intraday bars).
    """
    y = np.asarray(values, dtype="float64")
    index = stamps
    if y.shape != (len(index),):
        raise ConfigError(f"{y.shape[0]} values for {len(index)} bars")
    if window < 2 or not lags or min(lags) < 1:
        raise ConfigError(f"level window {window} and lags {tuple(lags)} must be positive")
    ok = np.isfinite(y) & (y > 0)
    y, index = y[ok], index[ok]
    need = window + max(lags) + 2 * window
    if len(y) < need:
        raise ConfigError(f"level calibration needs {need} bars of history, has {len(y)}")
    x = np.log(y)
    profile: dict[int, float] = {}
    if seasonal:
        keys = index.hour.to_numpy()
        means = pd.Series(x).groupby(keys).mean()
        profile = {int(str(k)): float(v - means.mean()) for k, v in means.items()}
        x = x - np.array([profile[int(k)] for k in keys])
    design = _design(x, lags)
    target = _window_means(x, window)
    usable = np.isfinite(design).all(axis=1) & np.isfinite(target)
    coef, *_ = np.linalg.lstsq(design[usable], target[usable], rcond=None)
    fit = LevelFit(tuple(map(float, coef)), tuple(lags), window, 0.0, 0.0, profile, len(y))
    statistic = level_statistics(x, fit)
    allowed = int(false_alarms * np.isfinite(statistic).sum() / 1000)
    up = _lowest_line(statistic, allowed, window)
    down = _lowest_line(-statistic, allowed, window)
    return LevelFit(fit.coef, fit.lags, window, up, down, profile, len(y))


class LevelShift:
    """Two-sided detector of a step in the level of log realized variance (module doc)."""

    def __init__(
        self,
        fit: LevelFit,
        history: Sequence[tuple[pd.Timestamp, float]] = (),
        *,
        sides: Literal["up", "both"] = "up",
    ) -> None:
        self.fit = fit
        self.sides = sides
        self._values: deque[float] = deque(maxlen=fit.window + max(fit.lags))
        self.statistic: float | None = None
        self.n_seen = 0
        for at, value in history:
            self.update(value, at)

    @property
    def threshold(self) -> float:
        return self.fit.up

    @property
    def drift_detected(self) -> bool:
        s = self.statistic
        if s is None:
            return False
        return s > self.fit.up or (self.sides == "both" and s < -self.fit.down)

    @property
    def direction(self) -> str | None:
        if not self.drift_detected:
            return None
        assert self.statistic is not None
        return "up" if self.statistic > 0 else "down"

    def update(self, value: float, at: pd.Timestamp) -> Self:
        """Feed the realized variance of bar ``at``; non-positive values are skipped."""
        if not (value > 0 and math.isfinite(value)):
            return self
        self.n_seen += 1
        x = math.log(value) - self.fit.profile.get(_profile_key(at), 0.0)
        self._values.append(x)
        if len(self._values) < self._values.maxlen:  # type: ignore[operator]
            return self
        values = np.fromiter(self._values, dtype="float64")
        window = self.fit.window
        before, recent = values[:-window], values[-window:]
        pairs = zip(self.fit.coef[1:], self.fit.lags, strict=True)
        origin = self.fit.coef[0] + sum(c * float(before[-lag:].mean()) for c, lag in pairs)
        self.statistic = float(recent.mean() - origin)
        return self

    @property
    def run_length(self) -> int | None:
        """While alarming: how many bars ago the step most likely came. Page's estimate inside
        the window: the start of the run whose excess over the prediction, less an allowance
        of half the line, sums largest."""
        if not self.drift_detected or self.statistic is None:
            return None
        sign = 1.0 if self.statistic > 0 else -1.0
        values = np.fromiter(self._values, dtype="float64")[-self.fit.window :]
        allowance = (self.fit.up if sign > 0 else self.fit.down) / 2
        # x - prediction = x - mean(window) + statistic
        excess = sign * (values - values.mean() + self.statistic) - allowance
        tail_sums = np.cumsum(excess[::-1])[::-1]  # from each bar to the last
        return int(len(values) - int(np.argmax(tail_sums)))

    def detail(self) -> dict[str, Any]:
        return {
            "detector": "volatility_level",
            "statistic": self.statistic,
            "threshold_up": self.fit.up,
            "threshold_down": self.fit.down,
            "direction": self.direction,
            "sides": self.sides,
            "window": self.fit.window,
        }


def level_detector(
    frame: pd.DataFrame,
    *,
    horizon: int = 1,
    window: int = 24,
    false_alarms: float = 0.5,
    sides: Literal["up", "both"] = "up",
) -> LevelShift:
    """A :class:`LevelShift` fitted on a feature dataset (``timestamp``, ``target``) and primed
    with its latest bars. The target of row ``t`` is the realized value of the bar
    ``horizon`` rows on, which is what the live loop feeds the detector for that bar; the
    hour-of-day profile is removed for intraday bars."""
    values = frame["target"].to_numpy(dtype="float64")[: len(frame) - horizon]
    stamps = pd.DatetimeIndex(frame["timestamp"])[horizon:]
    seasonal = len(stamps) > 1 and bool((stamps[1:] - stamps[:-1]).min() < pd.Timedelta("1D"))
    fit = fit_level(values, stamps, window=window, false_alarms=false_alarms, seasonal=seasonal)
    tail = fit.window + max(fit.lags)
    primed = list(zip(stamps[-tail:], values[-tail:].tolist(), strict=True))
    return LevelShift(fit, primed, sides=sides)
