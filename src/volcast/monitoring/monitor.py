"""The live monitor of one series: drift, decay, realized loss and the retrain trigger.

:class:`SeriesMonitor` is fed one realized bar at a time by the stream worker
(:meth:`SeriesMonitor.observe`): the forecast made at the previous bar, the variance that bar
turned out to have, the HAR baseline's forecast of it, and the feature row of the new bar.
It updates

- the decay detectors: a :class:`~volcast.monitoring.decay.SurpriseCusum` on
  ``ln(realized / forecast)`` (the champion against its own training-time level) and,
  when a baseline is given, an upward :class:`~volcast.monitoring.decay.Cusum` on the QLIKE
  differential ``qlike(champion) - qlike(HAR)`` (the champion against HAR on the same bars);
- the input-drift detector (:class:`~volcast.monitoring.drift.DriftDetector`) and the
  step detector on the level of realized volatility
  (:class:`~volcast.monitoring.level.LevelShift`), either of which signals ``drift``;
- rolling realized QLIKE of the champion and of the baseline;
- the :class:`~volcast.monitoring.trigger.RetrainTrigger` with the bar's signals;

and returns the :class:`~volcast.monitoring.events.Event` s the bar produced: ``drift`` and
``decay`` when a detector's alarm starts (not again while it lasts). Pure state: no clock, no
I/O; it pickles, which is how the stream worker stores it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from volcast.evaluation.metrics import qlike
from volcast.monitoring.decay import Cusum, SurpriseCusum
from volcast.monitoring.drift import DriftDetector
from volcast.monitoring.events import Event
from volcast.monitoring.level import LevelShift
from volcast.monitoring.requests import ALERT_SIGNAL, RetrainRequest
from volcast.monitoring.trigger import RetrainTrigger

REARM_BARS = 24
"""Bars a detector must stay quiet before its next alarm is a new ``drift`` / ``decay``
event: a statistic hovering at its line (over, under, over again within hours) is one alarm,
as crossings less than a window apart are one in the level detector's calibration."""

MIN_LOSS_BARS = 24
"""Realized losses a rolling QLIKE needs before the summary exports it: the mean of one or
two noisy bars after a start or a rebase would fire the loss alerts on its own."""


def _rolling_mean(values: deque[float], least: int = 1) -> float | None:
    return float(np.mean(values)) if len(values) >= max(least, 1) else None


class SeriesMonitor:
    """Everything watched about one series' champion, fed bar by bar."""

    _last_signal: dict[str, int] | None = None  # the last bar each signal was raised on

    def __init__(
        self,
        *,
        model_version: int | None,
        decay: SurpriseCusum,
        trigger: RetrainTrigger,
        relative: Cusum | None = None,
        drift: DriftDetector | None = None,
        level: LevelShift | None = None,
        loss_window: int = 168,
        training_qlike: float | None = None,
    ) -> None:
        self.model_version = model_version
        self.training_qlike = training_qlike
        self.decay = decay
        self.relative = relative
        self.drift = drift
        self.level = level
        self.trigger = trigger
        self.loss_window = loss_window
        self.losses_: deque[float] = deque(maxlen=loss_window)
        self.baseline_losses_: deque[float] = deque(maxlen=loss_window)
        self.n_bars_ = 0
        self.last_bar_: pd.Timestamp | None = None
        self._active: set[str] = set()
        self._last_signal = {}

    def observe(
        self,
        bar: pd.Timestamp,
        *,
        realized: float,
        forecast: float,
        baseline: float | None = None,
        features: Mapping[str, float] | None = None,
        requests: Sequence[RetrainRequest] = (),
    ) -> list[Event]:
        """Feed the realized variance of ``bar`` and the forecasts that were made for it.

        ``features`` is the feature row of ``bar`` (the inputs of the next forecast);
        ``requests`` the retrain requests (alerts) received since the last bar, fed to the
        trigger as the forcing signal ``alert``. Returns the events this bar raised (one
        ``retrain_requested`` per request, saying whether the trigger took it);
        :attr:`retrain_due` tells whether the trigger fired.
        """
        self.n_bars_ += 1
        self.last_bar_ = bar
        usable = realized > 0 and forecast > 0 and math.isfinite(realized + forecast)
        if usable:
            self.decay.update(realized, forecast)
            loss = qlike([realized], [forecast])
            self.losses_.append(loss)
            if baseline is not None and baseline > 0 and math.isfinite(baseline):
                base_loss = qlike([realized], [baseline])
                self.baseline_losses_.append(base_loss)
                if self.relative is not None:
                    self.relative.update_value(loss - base_loss)
            if self.level is not None:
                self.level.update(realized, bar)
        if features is not None and self.drift is not None:
            self.drift.update(features)
        signals: dict[str, dict[str, Any]] = {}
        if self.decay_detected:
            signals["decay"] = self._decay_detail()
        if self.drift_detected:
            signals["drift"] = self._drift_detail()
        if self._last_signal is None:  # the state an older volcast stored
            self._last_signal = {}
        last = self._last_signal
        events = [
            Event(time=bar, event=name, detail=detail)  # type: ignore[arg-type]
            for name, detail in signals.items()
            if name not in self._active and self.n_bars_ - last.get(name, -REARM_BARS) > REARM_BARS
        ]
        self._active = set(signals)
        last.update(dict.fromkeys(signals, self.n_bars_))
        if requests:
            signals[ALERT_SIGNAL] = {}
        self.trigger.update(signals)
        for request in requests:
            detail: dict[str, Any] = {**request.to_dict(), "accepted": self.trigger.fired}
            if not self.trigger.fired:
                detail["why"] = (
                    "a retrain is already running" if self.trigger.pending_ else "cooldown"
                )
            events.append(Event(time=bar, event="retrain_requested", detail=detail))
        return events

    @property
    def decay_detected(self) -> bool:
        """Whether either decay detector is alarming."""
        return self.decay.drift_detected or (
            self.relative is not None and self.relative.drift_detected
        )

    @property
    def drift_detected(self) -> bool:
        """Whether the inputs drift or the volatility level stepped."""
        return (self.drift is not None and self.drift.drift_detected) or self.level_detected

    @property
    def level_detected(self) -> bool:
        return self.level is not None and self.level.drift_detected

    @property
    def change_bars_ago(self) -> int | None:
        """While decay or a level step alarms: how many bars ago the change began (the
        alarming detector's estimate, the longest if several alarm); None otherwise."""
        runs = [
            detector.run_length
            for detector in (self.decay, self.relative)
            if detector is not None and detector.drift_detected
        ]
        if self.level is not None and (run := self.level.run_length) is not None:
            runs.append(run)
        return max(runs) if runs else None

    @property
    def _min_losses(self) -> int:
        return min(MIN_LOSS_BARS, self.loss_window)

    @property
    def retrain_due(self) -> bool:
        """Whether the last observed bar fired the retrain trigger."""
        return self.trigger.fired

    def rebase(
        self,
        *,
        model_version: int | None,
        decay: SurpriseCusum,
        relative: Cusum | None = None,
        drift: DriftDetector | None = None,
        level: LevelShift | None = None,
        training_qlike: float | None = None,
    ) -> Self:
        """A new champion (or a retrain that kept the old one): fresh detectors, same trigger.

        The trigger's pending retrain ends and its cooldown keeps running, so a rejected
        challenger does not make the very next bar ask again.
        """
        self.model_version = model_version
        self.training_qlike = training_qlike
        self.decay = decay
        self.relative = relative
        self.drift = drift
        self.level = level
        self._active = set()
        self._last_signal = {}
        self.losses_.clear()
        self.baseline_losses_.clear()
        self.trigger.done()
        return self

    def _decay_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "surprise_cusum": self.decay.statistic,
            "threshold": self.decay.threshold,
            "direction": self.decay.direction,
            "rolling_qlike": _rolling_mean(self.losses_),
            "rolling_qlike_baseline": _rolling_mean(self.baseline_losses_),
            "model_version": self.model_version,
        }
        if self.relative is not None:
            detail["relative_cusum"] = self.relative.statistic
            detail["relative_threshold"] = self.relative.threshold
        return detail

    def _drift_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"model_version": self.model_version}
        if self.drift is not None:
            detail.update(
                features=self.drift.drift_detected,
                ood_ratio=self.drift.ood_ratio,
                recent_ood_ratio=self.drift.recent_ood_ratio,
                drifted_features=self.drift.drifted_features,
                window=self.drift.n_window,
            )
        if self.level_detected:
            assert self.level is not None
            detail["volatility_level"] = self.level.detail()
        return detail

    def summary(self) -> dict[str, Any]:
        """The gauges every API worker exports for this series (plain JSON values)."""
        drift = self.drift
        return {
            "model_version": self.model_version,
            "bars": self.n_bars_,
            "last_bar": None if self.last_bar_ is None else self.last_bar_.isoformat(),
            "rolling_qlike": _rolling_mean(self.losses_, self._min_losses),
            "rolling_qlike_baseline": _rolling_mean(self.baseline_losses_, self._min_losses),
            "training_qlike": self.training_qlike,
            "loss_window": self.loss_window,
            "decay_statistic": self.decay.statistic,
            "decay_threshold": self.decay.threshold,
            "decay_detected": self.decay_detected,
            "relative_statistic": None if self.relative is None else self.relative.statistic,
            "relative_threshold": None if self.relative is None else self.relative.threshold,
            "drift_detected": self.drift_detected,
            "level_statistic": None if self.level is None else self.level.statistic,
            "level_threshold": None if self.level is None else self.level.threshold,
            "level_detected": self.level_detected,
            "ood_ratio": 0.0 if drift is None else drift.ood_ratio,
            "ood_threshold": None if drift is None else drift.ood_threshold,
            "recent_ood_ratio": 0.0 if drift is None else drift.recent_ood_ratio,
            "drifted_features": [] if drift is None else list(drift.drifted_features),
            "drift_window": 0 if drift is None else drift.n_window,
            "psi": {} if drift is None else drift.psi,
            "feature_mean_shift": {} if drift is None else drift.mean_shift,
            "retrain_pending": self.trigger.pending_,
            "retrains": self.trigger.n_fired_,
        }
