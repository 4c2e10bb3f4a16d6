"""The stream worker's stored state: forecasts log, events, monitor state (one writer each).

Under ``monitoring/<slug>/<interval>/`` of the data directory:

- ``forecasts.parquet``: one row per bar the loop processed: ``timestamp`` (the bar the
  forecast was made at), ``forecast_variance``, ``realized_variance`` (NaN until the target's
  bars have closed), ``model_version``, ``baseline_variance`` (HAR). Rows are upserted by
  ``timestamp``, so a bar processed again after a crash replaces its row, never adds one.
- ``events.jsonl``: one :class:`~volcast.monitoring.events.Event` a line; an event already
  in the file (same bar, kind and detail) is not written twice.
- ``state.pkl``: the pickled :class:`StreamState` (monitor, pending cursor), the worker's own;
  ``state.json``: its summary, the gauges every API worker exports for the series (with
  ``targets``: the rolling losses of the return and direction champions when watched).
- ``forecasts-direction.parquet`` / ``forecasts-return.parquet``: the same log for the
  return and direction champions (:mod:`volcast.pipeline.target_watch`).
- ``requests/<name>.json``: retrain requests written by the API's alert webhook; the worker
  reads the ones it has not taken yet (their names are kept in the state).

Every write replaces the whole file atomically (temporary file and rename, or one PUT).
"""

from __future__ import annotations

import logging
import math
import pickle
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from volcast.errors import ConfigError, StorageError
from volcast.monitoring.events import EVENT_KINDS, Event
from volcast.monitoring.monitor import SeriesMonitor
from volcast.monitoring.requests import RetrainRequest
from volcast.monitoring.target_loss import TargetLoss
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.storage import Storage

RETRAIN_FAILED: Final = "retrain_failed"
"""The count of ``retrain_done`` events with ``ok: false`` in the summary's ``events``."""

log = logging.getLogger(__name__)

LOG_DTYPES: Final = {
    TIMESTAMP: "datetime64[ns, UTC]",
    "forecast_variance": "float64",
    "realized_variance": "float64",
    "model_version": "Int64",
    "baseline_variance": "float64",
}
"""The forecasts log's columns and their types."""
LOG_COLUMNS: Final = tuple(LOG_DTYPES)


def read_log(storage: Storage, path: str, dtypes: dict[str, str]) -> pd.DataFrame:
    """A forecasts log (empty with the columns of ``dtypes`` when none is stored)."""
    if not storage.exists(path):
        return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})
    return storage.read_parquet(path)


def write_log(storage: Storage, path: str, log: pd.DataFrame, dtypes: dict[str, str]) -> None:
    """Store a forecasts log, one row per timestamp (the last one wins), ascending; the
    ``Int64`` columns (model versions) stay nullable integers."""
    out = log.drop_duplicates(subset=[TIMESTAMP], keep="last").sort_values(TIMESTAMP)
    out = out.reset_index(drop=True)[list(dtypes)]
    for name, dtype in dtypes.items():
        if dtype == "Int64":
            out[name] = out[name].astype("Int64")
    storage.write_parquet(path, out)


@dataclass
class StreamState:
    """What the worker needs to resume exactly where it stopped."""

    last_processed: pd.Timestamp | None = None
    """The last bar whose forecast row is in the log."""
    last_seen: pd.Timestamp | None = None
    """The last bar fetched, accepted or rejected (the replay cursor)."""
    monitor: SeriesMonitor | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, TargetLoss] = field(default_factory=dict)
    """The rolling losses of the return and direction champions, by target."""
    realized_through: pd.Timestamp | None = None
    """The last bar whose variance forecast the monitor was fed realized (None: none yet, or a
    state stored before this was kept)."""


class MonitorStore:
    """Reads and writes one series' monitoring files."""

    def __init__(self, storage: Storage, series: Series) -> None:
        self.storage = storage
        self.series = series
        base = series.layout.monitoring_dir
        self.log_path = series.layout.monitoring_forecasts
        self.events_path = series.layout.monitoring_events
        self.state_path = f"{base}/state.pkl"
        self.summary_path = series.layout.monitoring_summary
        self._counts: dict[str, int] | None = None

    # ----- forecasts log ----------------------------------------------------------------------

    def read_log(self) -> pd.DataFrame:
        """The forecasts log (empty with its columns when none is stored)."""
        return read_log(self.storage, self.log_path, LOG_DTYPES)

    def write_log(self, log: pd.DataFrame) -> None:
        """Store the log, one row per timestamp (the last one wins), ascending."""
        write_log(self.storage, self.log_path, log, LOG_DTYPES)

    # ----- events -----------------------------------------------------------------------------

    def read_events(self) -> list[Event]:
        """Every stored event, in order."""
        if not self.storage.exists(self.events_path):
            return []
        text = self.storage.read_bytes(self.events_path).decode()
        return [Event.from_json(line) for line in text.splitlines() if line.strip()]

    def append_events(self, events: list[Event]) -> list[Event]:
        """Append the events not stored yet; returns those written."""
        if not events:
            return []
        existing = (
            self.storage.read_bytes(self.events_path).decode()
            if self.storage.exists(self.events_path)
            else ""
        )
        known = set(existing.splitlines())
        lines = [e.to_json() for e in events]
        new = [(e, line) for e, line in zip(events, lines, strict=True) if line not in known]
        if new:
            body = existing + "".join(line + "\n" for _, line in new)
            self.storage.write_bytes(self.events_path, body.encode())
            self._counts = None  # recounted from the file when next asked
        return [e for e, _ in new]

    def event_counts(self) -> dict[str, int]:
        """How many events of each kind the log holds; a failed retrain also counts as
        ``retrain_failed`` (every kind present, 0 when none)."""
        if self._counts is None:
            counts = dict.fromkeys((*EVENT_KINDS, RETRAIN_FAILED), 0)
            for event in self.read_events():
                counts[event.event] = counts.get(event.event, 0) + 1
                if event.event == "retrain_done" and event.detail.get("ok") is False:
                    counts[RETRAIN_FAILED] += 1
            self._counts = counts
        return dict(self._counts)

    # ----- retrain requests (from alerts) -------------------------------------------------------

    def new_requests(self, state: StreamState) -> list[RetrainRequest]:
        """The retrain requests not taken yet, oldest first; marks them taken in ``state``.

        An unreadable request file is logged and skipped (marked taken: it would not read
        better next time).
        """
        taken: list[str] = state.extra.setdefault("requests_taken", [])
        seen = set(taken)
        out: list[RetrainRequest] = []
        for path in self.storage.list(self.series.layout.monitoring_requests):
            name = path.rsplit("/", 1)[-1].removesuffix(".json")
            if name in seen or not path.endswith(".json"):
                continue
            taken.append(name)
            try:
                out.append(RetrainRequest.from_dict(self.storage.read_json(path)))
            except (ConfigError, StorageError, ValueError) as exc:
                log.warning("skipping unreadable retrain request %s: %s", path, exc)
        del taken[:-10_000]  # alerts are rare: this keeps years of them
        return out

    # ----- state ------------------------------------------------------------------------------

    def read_state(self) -> StreamState:
        """The stored state (a fresh one when none is stored)."""
        if not self.storage.exists(self.state_path):
            return StreamState()
        try:
            state = pickle.loads(self.storage.read_bytes(self.state_path))
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise StorageError(
                f"monitoring state {self.storage.url(self.state_path)} is unreadable ({exc}); "
                "move it away to start the monitor afresh"
            ) from exc
        if not isinstance(state, StreamState):
            raise StorageError(f"{self.storage.url(self.state_path)} is not a stream state")
        state.__dict__.setdefault("targets", {})  # a state stored before targets were watched
        return state

    def write_state(self, state: StreamState) -> None:
        """Store the state, then its JSON summary (what the API reads)."""
        self.storage.write_bytes(self.state_path, pickle.dumps(state))
        summary = state.monitor.summary() if state.monitor is not None else {}
        summary = {
            **summary,
            "symbol": self.series.symbol,
            "interval": self.series.interval,
            "last_processed": _iso(state.last_processed),
            "events": self.event_counts(),
        }
        if state.targets:
            summary["targets"] = {kind: loss.summary() for kind, loss in state.targets.items()}
        self.storage.write_json(self.summary_path, _finite(summary))

    def read_summary(self) -> dict[str, Any] | None:
        """The JSON summary the worker last wrote (None when none)."""
        if not self.storage.exists(self.summary_path):
            return None
        summary: dict[str, Any] = self.storage.read_json(self.summary_path)
        return summary


def _iso(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None else pd.Timestamp(stamp).isoformat()


def _finite(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
