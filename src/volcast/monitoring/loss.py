"""Realized loss of served forecasts: remembered forecasts, QLIKE per bar, rolling QLIKE.

A :class:`LossTracker` belongs to one series. It remembers the forecasts made (by the bar
they were made at), scores a realized variance against the forecast of its bar with
:func:`volcast.evaluation.metrics.qlike`, counts each bar at most once and keeps a rolling
mean per forecaster (``model`` and the ``har`` baseline). It is plain state, not thread-safe:
the caller serialises access.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from volcast.evaluation.metrics import qlike

MIN_RATIO, MAX_RATIO = 1e-12, 1e12
"""Realized/forecast ratios outside these are unit mistakes, not forecast errors."""

MODEL, HAR = "model", "har"
"""The forecasters whose losses are tracked."""


@dataclass(frozen=True)
class Scored:
    """The outcome of one feedback: the forecasts scored, the QLIKE and the rolling QLIKE.

    ``duplicate`` is True when the bar had already been counted: the earlier outcome is
    returned (with the current rolling QLIKE) and nothing is counted again. ``rolling`` is
    None only before any loss was counted.
    """

    realized: float
    forecast: float
    baseline: float | None
    loss: float
    rolling: float | None
    duplicate: bool = False
    counted: bool = True
    """False when the realized/forecast ratio is not :func:`plausible` (a unit mistake)."""


def plausible(realized: float, forecast: float) -> bool:
    """Whether ``realized / forecast`` is within :data:`MIN_RATIO` .. :data:`MAX_RATIO`."""
    return forecast > 0 and MIN_RATIO <= realized / forecast <= MAX_RATIO


@dataclass
class LossTracker:
    """Forecasts remembered and losses counted for one series.

    ``window`` is the rolling QLIKE window; ``memory`` bounds the forecasts remembered. The
    bars counted are kept for at least ``window`` bars, so a bar forgotten has also left the
    rolling QLIKE.
    """

    window: int
    memory: int
    forecasts: OrderedDict[pd.Timestamp, tuple[float, float | None]] = field(
        default_factory=OrderedDict
    )
    losses: dict[str, deque[float]] = field(default_factory=dict)
    scored: OrderedDict[pd.Timestamp, Scored] = field(default_factory=OrderedDict)

    def remember(self, as_of: pd.Timestamp, forecast: float, baseline: float | None) -> None:
        """Remember the forecast (and baseline) made at bar ``as_of``."""
        self.forecasts[as_of] = (forecast, baseline)
        while len(self.forecasts) > self.memory:
            self.forecasts.popitem(last=False)

    def forecast_at(self, as_of: pd.Timestamp) -> tuple[float, float | None] | None:
        """The remembered forecast and baseline of bar ``as_of`` (None when forgotten)."""
        return self.forecasts.get(as_of)

    def seen(self, as_of: pd.Timestamp) -> Scored | None:
        """The earlier outcome of bar ``as_of``, marked duplicate (None when not counted)."""
        earlier = self.scored.get(as_of)
        if earlier is None:
            return None
        rolling = self.rolling(MODEL)
        return replace(
            earlier, rolling=earlier.rolling if rolling is None else rolling, duplicate=True
        )

    def rolling(self, forecaster: str) -> float | None:
        """Mean QLIKE of ``forecaster`` over the window (None before any loss)."""
        losses = self.losses.get(forecaster)
        return float(np.mean(losses)) if losses else None

    def score(
        self, as_of: pd.Timestamp, realized: float, forecast: float, baseline: float | None
    ) -> Scored:
        """Count the QLIKE of the forecast (and baseline) of ``as_of`` once; see :meth:`seen`.

        A realized variance whose ratio to the forecast is not :func:`plausible` is a unit
        mistake: its QLIKE is returned but not counted (``counted`` False), and the bar may
        still be counted later. A baseline whose ratio is not plausible is left out of the
        HAR losses.
        """
        earlier = self.seen(as_of)
        if earlier is not None:
            return earlier
        loss = qlike([realized], [forecast])
        if not plausible(realized, forecast):
            return Scored(realized, forecast, baseline, loss, self.rolling(MODEL), counted=False)
        self._append(MODEL, loss)
        if baseline is not None:
            self.losses.setdefault(HAR, deque(maxlen=self.window))
            if plausible(realized, baseline):
                self._append(HAR, qlike([realized], [baseline]))
        scored = Scored(realized, forecast, baseline, loss, self.rolling(MODEL))
        self.scored[as_of] = scored
        while len(self.scored) > max(self.window, self.memory):
            self.scored.popitem(last=False)
        return scored

    def _append(self, forecaster: str, loss: float) -> None:
        self.losses.setdefault(forecaster, deque(maxlen=self.window)).append(loss)
