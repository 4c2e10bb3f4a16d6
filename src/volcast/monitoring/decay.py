"""Forecast decay: a CUSUM on the standardized surprise of the champion's forecasts.

The surprise of a realized bar is ``s = ln(realized / forecast)``. While the model is
calibrated, ``s`` is a stationary sequence around a level of its own (negative, since the
forecast is a mean and the log of a noisy proxy falls below the log of its mean); after a
volatility regime change it moves by about ``ln(new / old)`` until the model catches up.
:class:`SurpriseCusum` standardizes ``s`` by the series' own calibration level and scale
(median and MAD, robust to the proxy's fat tails) and runs a two-sided CUSUM on it::

    up_t   = max(0, up_{t-1}   + z_t - k)
    down_t = max(0, down_{t-1} - z_t - k)

and signals decay once either exceeds ``threshold``. Each ``z`` is clipped to ``[-clip, clip]``
first (a Huber-type robust CUSUM): a single flat bar or spike, whose log-ratio is huge, cannot
raise an alarm on its own, and the alarm rate no longer hangs on the far tail of the proxy's
noise, which a history of a few thousand bars cannot pin down. Volatility clustering makes ``s``
autocorrelated, so a threshold from i.i.d. tables would alarm too often;
:func:`calibrate_cusum` sets it from a moving-block bootstrap of the series' own surprises
instead: the ``1 - false_alarm_rate`` quantile of the largest statistic over runs of
``run_length`` bars. The detector keeps no clock and no randomness and pickles, in the style
of river's detectors (``update(...) -> self``, read-only state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

import numpy as np
import numpy.typing as npt

from volcast.errors import ConfigError

MAD_TO_SD: Final = 1.4826
"""Scale of the median absolute deviation to the standard deviation of a normal."""

Direction = Literal["up", "down"]


def surprises(realized: npt.ArrayLike, forecast: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``ln(realized / forecast)`` of each pair whose values are both finite and positive."""
    y = np.asarray(realized, dtype="float64")
    f = np.asarray(forecast, dtype="float64")
    if y.shape != f.shape:
        raise ConfigError(f"realized {y.shape} and forecast {f.shape} differ in shape")
    ok = np.isfinite(y) & np.isfinite(f) & (y > 0) & (f > 0)
    return np.asarray(np.log(y[ok] / f[ok]), dtype="float64")


@dataclass(frozen=True)
class Calibration:
    """Level, scale and threshold of a :class:`SurpriseCusum` fitted on one series' history."""

    level: float
    scale: float
    threshold: float
    k: float
    clip: float
    n_history: int


class Cusum:
    """Two-sided robust CUSUM on ``z = clip((x - level) / scale)`` of a stream of values ``x``.

    :attr:`run_length` counts the values since the larger sum last stood at zero: when the
    detector alarms, the change most likely began that many values ago (Page's estimate).

    ``k`` is the allowance in scale units (half the shift to detect quickly: 0.5 aims at
    shifts of about one scale); ``threshold`` the alarm line; ``clip`` bounds one value's
    influence. ``upward_only`` ignores downward moves (for a loss, only getting worse matters).
    """

    up_run_: int = 0
    down_run_: int = 0

    def __init__(
        self,
        *,
        level: float = 0.0,
        scale: float = 1.0,
        k: float = 0.5,
        threshold: float = 8.0,
        clip: float = 3.0,
        upward_only: bool = False,
    ) -> None:
        self.up_run_ = self.down_run_ = 0
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"CUSUM scale must be a positive number, got {scale!r}")
        if not (k >= 0 and threshold > 0 and clip > k):
            raise ConfigError(
                f"CUSUM needs k >= 0 ({k}), threshold > 0 ({threshold}) and clip > k ({clip})"
            )
        self.level = level
        self.scale = scale
        self.k = k
        self.threshold = threshold
        self.clip = clip
        self.upward_only = upward_only
        self.up_ = 0.0
        self.down_ = 0.0
        self.n_seen_ = 0
        self.n_since_reset_ = 0
        self.last_z_: float | None = None

    @classmethod
    def from_calibration(cls, calibration: Calibration, *, upward_only: bool = False) -> Self:
        """A detector with the level, scale, allowance, clip and threshold of ``calibration``."""
        return cls(
            level=calibration.level,
            scale=calibration.scale,
            k=calibration.k,
            threshold=calibration.threshold,
            clip=calibration.clip,
            upward_only=upward_only,
        )

    def update_value(self, x: float) -> Self:
        """Add one value (ignored when not finite)."""
        if not math.isfinite(x):
            return self
        z = min(max((x - self.level) / self.scale, -self.clip), self.clip)
        self.up_ = max(0.0, self.up_ + z - self.k)
        self.down_ = 0.0 if self.upward_only else max(0.0, self.down_ - z - self.k)
        self.up_run_ = self.up_run_ + 1 if self.up_ > 0 else 0
        self.down_run_ = self.down_run_ + 1 if self.down_ > 0 else 0
        self.last_z_ = z
        self.n_seen_ += 1
        self.n_since_reset_ += 1
        return self

    def reset(self) -> Self:
        """Restart both sums (after an alarm has been acted on, or a new champion)."""
        self.up_ = self.down_ = 0.0
        self.up_run_ = self.down_run_ = 0
        self.n_since_reset_ = 0
        return self

    @property
    def run_length(self) -> int:
        """Values since the larger sum was last zero (0 while both are)."""
        return self.up_run_ if self.up_ >= self.down_ else self.down_run_

    @property
    def statistic(self) -> float:
        """The larger of the two CUSUM sums."""
        return max(self.up_, self.down_)

    @property
    def drift_detected(self) -> bool:
        """Whether a sum is over the threshold."""
        return self.statistic > self.threshold

    @property
    def direction(self) -> Direction | None:
        """``up`` (values rose: for surprises, volatility rose), ``down``, or None."""
        if not self.drift_detected:
            return None
        return "up" if self.up_ >= self.down_ else "down"


class SurpriseCusum(Cusum):
    """:class:`Cusum` on the surprise ``ln(realized / forecast)`` of each realized bar."""

    def update(self, realized: float, forecast: float) -> Self:
        """Add one realized bar; pairs that are not finite and positive are ignored."""
        if not (
            math.isfinite(realized) and math.isfinite(forecast) and realized > 0 and forecast > 0
        ):
            return self
        return self.update_value(math.log(realized / forecast))


def _robust_level_scale(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    level = float(np.median(values))
    scale = float(np.median(np.abs(values - level))) * MAD_TO_SD
    if not scale > 0:
        scale = float(np.std(values)) or 1.0
    return level, scale


def _block_bootstrap(
    values: npt.NDArray[np.float64], *, n_runs: int, length: int, block: int, seed: int
) -> npt.NDArray[np.float64]:
    """``n_runs`` x ``length`` series of moving blocks of ``values`` (keeps clustering)."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block, values.size))
    n_blocks = -(-length // block)
    starts = rng.integers(0, values.size - block + 1, size=(n_runs, n_blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_runs, -1)
    return values[index[:, :length]]


def max_cusum(z: npt.NDArray[np.float64], *, k: float, upward_only: bool = False) -> np.ndarray:
    """The largest two-sided CUSUM statistic along each row of ``z`` (runs x bars)."""
    z = np.atleast_2d(z)
    up = np.zeros(z.shape[0])
    down = np.zeros(z.shape[0])
    peak = np.zeros(z.shape[0])
    for column in z.T:
        up = np.maximum(0.0, up + column - k)
        if not upward_only:
            down = np.maximum(0.0, down - column - k)
        peak = np.maximum(peak, np.maximum(up, down))
    return peak


def calibrate_cusum(
    realized: npt.ArrayLike,
    forecast: npt.ArrayLike,
    **options: Any,
) -> Calibration:
    """:func:`calibrate_values` on the surprises ``ln(realized / forecast)`` of a history.

    ``realized``/``forecast`` are out-of-sample pairs from a period the model is believed
    calibrated on (its walk-forward backtest).
    """
    return calibrate_values(surprises(realized, forecast), **options)


def calibrate_values(
    values: npt.ArrayLike,
    *,
    k: float = 0.5,
    clip: float = 3.0,
    false_alarm_rate: float = 0.01,
    run_length: int = 1000,
    n_runs: int = 1000,
    block: int = 24,
    upward_only: bool = False,
    seed: int = 0,
) -> Calibration:
    """Level, scale and a threshold for a :class:`Cusum` from a stream's own history.

    Level and scale are the median and the scaled MAD of ``values``. The threshold is the
    ``1 - false_alarm_rate`` quantile of the largest CUSUM statistic over ``n_runs``
    moving-block bootstrap runs of ``run_length`` bars: about that share of unchanged
    stretches of that length alarm once.
    """
    s = np.asarray(values, dtype="float64")
    s = s[np.isfinite(s)]
    if s.size < 2 * block or s.size < 50:
        raise ConfigError(
            f"{s.size} usable values are too few to calibrate the decay "
            f"detector (need at least {max(2 * block, 50)})"
        )
    if not 0 < false_alarm_rate < 1:
        raise ConfigError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    level, scale = _robust_level_scale(s)
    z = np.clip((s - level) / scale, -clip, clip)
    runs = _block_bootstrap(z, n_runs=n_runs, length=run_length, block=block, seed=seed)
    peaks = max_cusum(runs, k=k, upward_only=upward_only)
    threshold = float(np.quantile(peaks, 1.0 - false_alarm_rate))
    return Calibration(
        level=level, scale=scale, threshold=threshold, k=k, clip=clip, n_history=int(s.size)
    )
