"""Realized loss of the return and direction champions in the live loop (SPEC 20, 18).

A :class:`TargetLoss` belongs to one target of one series. Each realized bar adds the losses
of the champion's forecast and of its naive baseline, and the rolling means over the last
``window`` bars are what the monitoring state reports (and the API exports as
``forecast_loss_target``):

- ``direction``: log loss and Brier score of ``probability_up`` against the outcome (1 when
  the bar closed above the previous close), next to the expanding base rate of up moves
  known when the forecast was made (``base_rate``);
- ``return``: squared error of the forecast log return, next to a zero forecast (``zero``,
  the random walk).

Plain state, no I/O; the losses are :mod:`volcast.evaluation.target_metrics`' definitions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from volcast.errors import ConfigError
from volcast.evaluation.target_metrics import EPS

MODEL: Final = "model"
BASELINES: Final = {"direction": "base_rate", "return": "zero"}
"""The naive forecast each target's champion is judged against."""
LOSSES: Final = {"direction": ("log_loss", "brier"), "return": ("squared_error",)}
"""The losses tracked for each target, the first the primary one."""


def losses(kind: str, forecast: float, realized: float) -> dict[str, float]:
    """The losses of one forecast of ``kind`` against the realized value (an outcome 0/1 for
    direction, a log return for return)."""
    if kind == "direction":
        p = min(max(forecast, EPS), 1.0 - EPS)
        log_loss = -(realized * np.log(p) + (1.0 - realized) * np.log(1.0 - p))
        return {"log_loss": float(log_loss), "brier": float((forecast - realized) ** 2)}
    if kind == "return":
        return {"squared_error": float((realized - forecast) ** 2)}
    raise ConfigError(f"no realized loss for target kind {kind!r}: return or direction")


def base_rate(ups: float, n: float, *, prior: float = 0.5) -> float:
    """The expanding base rate: the share of up moves among ``n`` known bars (``prior`` at 0)."""
    return prior if n <= 0 else ups / n


@dataclass
class TargetLoss:
    """Rolling losses of one target's champion and baseline over ``window`` realized bars."""

    kind: str
    window: int
    model_version: int | None = None
    bars: int = 0
    """Realized bars counted since the loop began watching the target."""
    values: dict[str, dict[str, deque[float]]] = field(default_factory=dict)
    """``values[forecaster][loss]``: the last ``window`` losses."""

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ConfigError(f"no realized loss for target kind {self.kind!r}")
        if self.window < 1:
            raise ConfigError(f"the loss window must be at least 1 bar, got {self.window}")

    @property
    def baseline_name(self) -> str:
        return BASELINES[self.kind]

    def observe(self, *, forecast: float, baseline: float, realized: float) -> dict[str, float]:
        """Count one realized bar; returns the champion's losses on it."""
        own = losses(self.kind, forecast, realized)
        for forecaster, values in (
            (MODEL, own),
            (self.baseline_name, losses(self.kind, baseline, realized)),
        ):
            slots = self.values.setdefault(forecaster, {})
            for name, value in values.items():
                slots.setdefault(name, deque(maxlen=self.window)).append(value)
        self.bars += 1
        return own

    def rolling(self, forecaster: str, loss: str) -> float | None:
        """Mean ``loss`` of ``forecaster`` over the window (None before any bar)."""
        values = self.values.get(forecaster, {}).get(loss)
        return float(np.mean(values)) if values else None

    def summary(self) -> dict[str, Any]:
        """Plain JSON values: ``{"loss": {loss: {forecaster: mean}}, ...}``."""
        return {
            "kind": self.kind,
            "model_version": self.model_version,
            "bars": self.bars,
            "loss_window": self.window,
            "baseline": self.baseline_name,
            "loss": {
                name: {
                    forecaster: self.rolling(forecaster, name)
                    for forecaster in (MODEL, self.baseline_name)
                }
                for name in LOSSES[self.kind]
            },
        }
