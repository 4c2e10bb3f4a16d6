"""The return and direction champions in the live loop (SPEC 20 through SPEC 18).

For each processed bar, a :class:`TargetWatch` of a target whose
``volcast-<slug>-<interval>-<kind>`` has a ``@champion``:

1. realizes the forecast made at the previous bar (the outcome of the next-bar close, or its
   log return) and counts its losses and its baseline's in the state's
   :class:`~volcast.monitoring.target_loss.TargetLoss`;
2. logs the champion's forecast for the next bar with its baseline: the expanding base rate
   of up moves among every curated bar up to this one (direction) or zero (return).

The log is ``monitoring/<slug>/<interval>/forecasts-<kind>.parquet``, upserted by timestamp
like the variance log: ``timestamp``, ``probability_up``, ``outcome``, ``model_version``,
``baseline`` (direction); ``timestamp``, ``forecast_return``, ``realized_return``,
``model_version``, ``baseline`` (return). A target without a champion is skipped; a registry
that cannot be reached keeps the last champion loaded (or skips the target until one is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from volcast.errors import NotFoundError, VolcastError
from volcast.monitoring.target_loss import TargetLoss, base_rate
from volcast.pipeline.monitor_store import StreamState, read_log, write_log
from volcast.registry.target_served import TargetChampion
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.storage import Storage

log = logging.getLogger(__name__)

KINDS: Final = ("direction", "return")
COLUMNS: Final = {
    "direction": ("probability_up", "outcome"),
    "return": ("forecast_return", "realized_return"),
}
"""The (forecast, realized) columns of each target's log."""


def log_dtypes(kind: str) -> dict[str, str]:
    forecast, realized = COLUMNS[kind]
    return {
        TIMESTAMP: "datetime64[ns, UTC]",
        forecast: "float64",
        realized: "float64",
        "model_version": "Int64",
        "baseline": "float64",
    }


@dataclass
class TargetWatch:
    """One target of one series in the live loop: its forecasts log and rolling loss."""

    storage: Storage
    series: Series
    kind: str
    champion: TargetChampion
    window: int

    @property
    def path(self) -> str:
        return self.series.layout.monitoring_target_forecasts(self.kind)

    def process(self, state: StreamState, bars: pd.DataFrame, history: pd.DataFrame) -> bool:
        """Realize and forecast at the last of ``bars`` (every curated bar up to it, cleaned;
        ``history`` its tail the features read). False when the target has no champion."""
        try:
            served = self.champion.current()
        except NotFoundError:
            return False
        except VolcastError as exc:  # no champion loaded yet and the registry is away
            log.warning("%s %s champion unavailable: %s", self.series, self.kind, exc)
            return False
        dtypes = log_dtypes(self.kind)
        forecast_column, realized_column = COLUMNS[self.kind]
        frame = read_log(self.storage, self.path, dtypes)
        close = bars["close"].to_numpy(dtype="float64")
        tracker = state.targets.get(self.kind)
        if tracker is None:
            tracker = state.targets[self.kind] = TargetLoss(kind=self.kind, window=self.window)
        if len(close) >= 2:
            as_of = pd.Timestamp(bars[TIMESTAMP].iloc[-2])
            match = frame.index[frame[TIMESTAMP] == as_of]
            # realized even when the log has the value: a worker killed between writing the
            # log and the state finds it there on restart, unseen by the older state's tracker
            if len(match):
                realized = self._realized(close[-2], close[-1])
                row = frame.loc[match[-1]]
                tracker.observe(
                    forecast=float(row[forecast_column]),
                    baseline=float(row["baseline"]),
                    realized=realized,
                )
                frame.loc[match[-1], realized_column] = realized
        try:
            value = served.forecast_last(history)
        except VolcastError as exc:
            log.warning("no %s forecast for %s: %s", self.kind, self.series, exc)
            write_log(self.storage, self.path, frame, dtypes)
            return True
        tracker.model_version = served.model.version
        row = pd.DataFrame(
            {
                TIMESTAMP: [pd.Timestamp(bars[TIMESTAMP].iloc[-1])],
                forecast_column: [value],
                realized_column: [np.nan],
                "model_version": pd.array([served.model.version], dtype="Int64"),
                "baseline": [self._baseline(close)],
            }
        )
        frame = row if frame.empty else pd.concat([frame, row], ignore_index=True)
        write_log(self.storage, self.path, frame, dtypes)
        return True

    def _realized(self, previous: float, close: float) -> float:
        """The outcome (1.0 up, else 0.0) or the log return of the bar just closed."""
        ret = float(np.log(close / previous))
        return (1.0 if ret > 0.0 else 0.0) if self.kind == "direction" else ret

    def _baseline(self, close: np.ndarray) -> float:
        """The naive forecast: the base rate of up moves among the bars so far, or zero."""
        if self.kind == "return":
            return 0.0
        moves = np.diff(close)
        return base_rate(float(np.sum(moves > 0.0)), float(moves.size))


def target_watches(
    storage: Storage, series: Series, *, window: int, tracking_uri: str | None
) -> list[TargetWatch]:
    """A watch of each other target of ``series``, following its ``@champion`` at every bar."""
    from volcast.registry.target_served import registry_loader

    load, resolve = registry_loader(tracking_uri)
    return [
        TargetWatch(
            storage=storage,
            series=series,
            kind=kind,
            champion=TargetChampion(
                series.symbol, series.interval, kind, load=load, resolve=resolve, ttl=0.0
            ),
            window=window,
        )
        for kind in KINDS
    ]
