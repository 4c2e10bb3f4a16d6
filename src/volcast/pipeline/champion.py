"""The stream worker's view of the champion: its forecasts and its monitor.

:class:`ChampionForecaster` follows ``@champion`` in the registry (the same
:class:`~volcast.registry.served.ServedModel` the API serves) and forecasts the latest bar
with :func:`~volcast.evaluation.latest.score_latest`, the HAR baseline next to it. For each
champion it builds a :class:`~volcast.monitoring.monitor.SeriesMonitor` calibrated on the
latest walk-forward backtest of that model: the surprise CUSUM on the champion's
out-of-sample surprises, the relative CUSUM on its QLIKE differential against HAR, the drift
detector on the reference statistics logged with the model, the volatility-level detector on
the realized values of its training history. :mod:`volcast.pipeline.worker` assembles the
loop around it.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from volcast.config import MonitoringParams, Params, TargetParams
from volcast.errors import ConfigError, ModelUnavailableError, VolcastError
from volcast.evaluation.latest import fit_har, har_last, score_latest
from volcast.evaluation.metrics import qlike_losses
from volcast.features import CALENDAR_FEATURES
from volcast.models import HarModel
from volcast.monitoring.decay import Cusum, SurpriseCusum, calibrate_cusum, calibrate_values
from volcast.monitoring.drift import DriftDetector, history_ood, history_psi
from volcast.monitoring.level import LevelShift, level_detector
from volcast.monitoring.monitor import SeriesMonitor
from volcast.monitoring.trigger import RetrainTrigger
from volcast.pipeline.stream import BarForecast
from volcast.registry.served import RegistryLoader, ServedModel
from volcast.series import Series
from volcast.sources.news_store import read_headlines
from volcast.storage import Storage

log = logging.getLogger(__name__)

UNCALIBRATED_THRESHOLD = 12.0
"""Decay CUSUM line when no backtest of the champion is stored to calibrate on."""


def _uncalibrated(settings: MonitoringParams) -> SurpriseCusum:
    return SurpriseCusum(level=0.0, scale=1.0, k=settings.decay_k, threshold=UNCALIBRATED_THRESHOLD)


class ChampionForecaster:
    """Forecasts of ``@champion`` for one series, reloaded when the alias moves."""

    def __init__(
        self,
        *,
        storage: Storage,
        series: Series,
        params: Params,
        tracking_uri: str | None = None,
        history_rows: int = 2000,
    ) -> None:
        self.storage = storage
        self.series = series
        self.params = params
        self.history_rows = history_rows
        self.loader = RegistryLoader(alias="champion", params=params, tracking_uri=tracking_uri)
        self.model: ServedModel | None = None
        self._har: HarModel | None = None
        self._har_age = 0

    @property
    def version(self) -> int | None:
        return None if self.model is None else self.model.version

    @property
    def target(self) -> TargetParams | None:
        """The champion's target definition, with the floor it was trained with."""
        return None if self.model is None else self.model.builder.target

    def refresh(self) -> bool:
        """Load the champion when the alias points at another version; True when it did."""
        try:
            current = self.loader.current_version(self.series.symbol, self.series.interval)
        except VolcastError as exc:  # registry down: keep forecasting with the last good model
            log.warning("registry unreachable, keeping v%s: %s", self.version, exc)
            return False
        if current is None or current == self.version:
            return False
        self.model = self.loader.load(self.series.symbol, self.series.interval)
        self._har = None
        return True

    def _require(self) -> ServedModel:
        if self.model is None and not self.refresh():
            raise ModelUnavailableError(
                f"no @champion for {self.series}; run `volcast pipeline` first",
                symbol=self.series.symbol,
                interval=self.series.interval,
            )
        assert self.model is not None
        return self.model

    def forecast(self, bars: pd.DataFrame) -> BarForecast:
        """The champion's and HAR's forecasts made at the last of ``bars``."""
        model = self._require()
        headlines = (
            read_headlines(self.storage, self.series.symbol)
            if model.builder.features.news
            else None
        )
        made = score_latest(model, bars, rows=self.history_rows, headlines=headlines)
        if self._har is None or self._har_age >= self.params.train.refit_every:
            try:
                self._har = fit_har(bars, model.builder)
            except (VolcastError, ValueError, KeyError, np.linalg.LinAlgError) as exc:
                log.warning("HAR baseline unavailable for %s: %s", self.series, exc)
                self._har = None
            self._har_age = 0
        self._har_age += 1
        return BarForecast(
            as_of=made.as_of,
            variance=made.variance,
            baseline=har_last(self._har, model.builder, bars),
            features=made.features,
            model_version=model.version,
        )

    def new_monitor(self, previous: SeriesMonitor | None) -> SeriesMonitor:
        """A monitor for the champion in service, calibrated on its backtest when stored."""
        model = self._require()
        settings = self.params.monitoring
        decay, relative, training_qlike = self._detectors(model, settings)
        features = [n for n in model.feature_inputs if n not in CALENDAR_FEATURES]
        history = self._history()
        drift = DriftDetector(
            model.reference_stats,
            features=features,
            window=settings.drift_window,
            min_samples=settings.drift_min_samples,
            psi_threshold=max(settings.psi_threshold, self._history_psi(model, features, history)),
            ood_threshold=max(settings.ood_threshold, self._history_ood(features, history)),
            recent=settings.ood_recent_bars,
            recent_threshold=settings.ood_recent_threshold,
        )
        level = self._level(model, history)
        if previous is not None:
            return previous.rebase(
                model_version=model.version,
                decay=decay,
                relative=relative,
                drift=drift,
                level=level,
                training_qlike=training_qlike,
            )
        return SeriesMonitor(
            model_version=model.version,
            decay=decay,
            relative=relative,
            drift=drift,
            level=level,
            trigger=RetrainTrigger(
                k=settings.trigger_k, n=settings.trigger_n, cooldown=settings.cooldown_bars
            ),
            loss_window=settings.loss_window,
            training_qlike=training_qlike,
        )

    def _history(self) -> pd.DataFrame | None:
        """The feature dataset: the champion's training history."""
        from volcast.pipeline.stages import read_dataset

        try:
            return read_dataset(
                self.storage, symbol=self.series.symbol, interval=self.series.interval
            ).frame
        except (VolcastError, OSError, ValueError, KeyError) as exc:
            log.warning("no feature dataset to calibrate the monitor on: %s", exc)
            return None

    def _history_psi(
        self, model: ServedModel, features: list[str], frame: pd.DataFrame | None
    ) -> float:
        """The largest PSI a drift window reaches on the champion's own training history."""
        if frame is None:
            return 0.0
        try:
            return history_psi(
                model.reference_stats,
                frame,
                features=features,
                window=self.params.monitoring.drift_window,
            )
        except (VolcastError, ValueError, KeyError) as exc:
            log.warning("no history to set the PSI line on (%s): the configured one", exc)
            return 0.0

    def _history_ood(self, features: list[str], frame: pd.DataFrame | None) -> float:
        """The largest OOD ratio a drift window of the training history has against the
        range of the rest of it (0.0 without a history: the configured line)."""
        if frame is None:
            return 0.0
        try:
            return history_ood(frame, features=features, window=self.params.monitoring.drift_window)
        except (VolcastError, ValueError, KeyError) as exc:
            log.warning("no history to set the OOD line on (%s): the configured one", exc)
            return 0.0

    def _level(self, model: ServedModel, frame: pd.DataFrame | None) -> LevelShift | None:
        """The volatility-level step detector fitted on the training history."""
        settings = self.params.monitoring
        if settings.level_sides == "off" or frame is None or "target" not in frame:
            return None
        try:
            return level_detector(
                frame, horizon=model.builder.target.horizon, window=settings.level_window,
                false_alarms=settings.level_false_alarms, sides=settings.level_sides,
            )  # fmt: skip
        except (ConfigError, KeyError, ValueError) as exc:
            log.warning("no volatility-level detector for %s: %s", self.series, exc)
            return None

    def _detectors(
        self, model: ServedModel, settings: MonitoringParams
    ) -> tuple[SurpriseCusum, Cusum | None, float | None]:
        """Decay detectors calibrated on the stored backtest of the champion's kind, and the
        champion's out-of-sample QLIKE there (its training-time loss level)."""
        predictions = self._backtest(model)
        if predictions is None:
            log.warning(
                "no backtest of %s to calibrate on: uncalibrated decay detector", model.kind
            )
            return _uncalibrated(settings), None, None
        rate = settings.false_alarm_rate
        own, har = predictions
        losses = qlike_losses(
            own["realized_variance"].to_numpy(), own["forecast_variance"].to_numpy()
        )
        finite = losses[np.isfinite(losses)]
        training_qlike = float(finite.mean()) if finite.size else None
        try:
            surprise = calibrate_cusum(
                own["realized_variance"], own["forecast_variance"], k=settings.decay_k,
                false_alarm_rate=rate,
            )  # fmt: skip
        except ConfigError as exc:
            log.warning("decay calibration failed (%s): uncalibrated detector", exc)
            return _uncalibrated(settings), None, training_qlike
        relative: Cusum | None = None
        if har is not None:
            joined = own.merge(har, on="timestamp", suffixes=("", "_har"))
            y = joined["realized_variance"].to_numpy()
            diff = qlike_losses(y, joined["forecast_variance"].to_numpy()) - qlike_losses(
                y, joined["forecast_variance_har"].to_numpy()
            )
            try:
                calibration = calibrate_values(
                    diff, k=settings.decay_k, false_alarm_rate=rate, upward_only=True
                )
                relative = Cusum.from_calibration(calibration, upward_only=True)
            except ConfigError as exc:
                log.warning("relative decay calibration failed: %s", exc)
        return SurpriseCusum.from_calibration(surprise), relative, training_qlike

    def _backtest(self, model: ServedModel) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
        """The champion kind's and HAR's out-of-sample rows of the stored backtest."""
        path = self.series.layout.backtest_predictions
        if model.kind is None or not self.storage.exists(path):
            return None
        frame = self.storage.read_parquet(path)
        own = frame.loc[frame["model"] == model.kind]
        if own.empty:
            return None
        har = frame.loc[frame["model"] == "har"]
        columns = ["timestamp", "forecast_variance", "realized_variance"]
        return own[columns].reset_index(drop=True), (
            None if har.empty or model.kind == "har" else har[columns[:2]].reset_index(drop=True)
        )
