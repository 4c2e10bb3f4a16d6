"""Publishing features to Feast: the offline table, then materialisation into the online store.

volcast writes the offline table of a series (``<home>/offline/<slug>_<interval>.parquet``,
atomically) and runs ``scripts/feast.sh materialize-incremental END --views VIEW`` in Feast's
own environment, as production systems run Feast's jobs: a subprocess, never an import
(Feast's pins clash with ours). ``END`` is the latest bar's event time plus a second, so the
window follows the series' bar time (a replay of a historical file materialises too).

Feast starts a view's first incremental window at *now* minus its TTL, which would skip every
historical bar, so the first materialisation of a view (none recorded in
``<home>/materialized.json``) is ``materialize START END`` over the latest bar. When the
latest bar is already materialised (the dataset was rebuilt, e.g. with a new floor), its row
is pushed again the same way, so the online store never keeps the old values.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from volcast.errors import FeatureStoreError
from volcast.featurestore.settings import FeatureStoreSettings
from volcast.featurestore.tables import offline_rows, table_name, view_name
from volcast.schemas import TIMESTAMP, interval_timedelta
from volcast.series import Series
from volcast.storage import atomic_write

log = logging.getLogger(__name__)

_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Materialized:
    """One materialisation: the command run, the window's end and how long it took."""

    command: list[str]
    end: pd.Timestamp
    seconds: float


class Publisher:
    """Writes a series' offline table and materialises it (one per process is enough)."""

    def __init__(self, settings: FeatureStoreSettings, *, data_dir: str | Path) -> None:
        if str(data_dir).find("://") >= 0:
            raise FeatureStoreError(
                f"the feature store needs a local data directory, not {data_dir}"
            )
        self.settings = settings
        self.data_dir = Path(data_dir).resolve()
        self.home = settings.feast_home(self.data_dir).resolve()

    def table_path(self, series: Series) -> Path:
        return self.home / "offline" / table_name(series)

    # ----- offline table ------------------------------------------------------------------------

    def publish_dataset(
        self, series: Series, dataset: pd.DataFrame, features: list[str]
    ) -> Materialized:
        """Replace the offline table with the dataset's rows, then materialise."""
        rows = offline_rows(dataset, series, features)
        self._write(series, rows)
        return self.materialize(series, pd.Timestamp(rows[TIMESTAMP].iloc[-1]))

    def publish_rows(
        self, series: Series, rows: pd.DataFrame, features: list[str]
    ) -> Materialized | None:
        """Add (or replace, by bar) rows of the offline table, then materialise.

        None when every row is already published and materialised with the same values (to
        a relative 1e-9: the live loop computes a row on a tail of bars): a restarted loop's
        first bar costs no Feast run.
        """
        new = offline_rows(rows, series, features)
        path = self.table_path(series)
        if path.exists():
            old = pd.read_parquet(path)
            if self._already_published(series, old, new, features):
                return None
            old = old[~old[TIMESTAMP].isin(new[TIMESTAMP])]
            new = pd.concat([old, new], ignore_index=True).sort_values(TIMESTAMP)
        self._write(series, new.reset_index(drop=True))
        return self.materialize(series, pd.Timestamp(new[TIMESTAMP].iloc[-1]))

    def _already_published(
        self, series: Series, old: pd.DataFrame, new: pd.DataFrame, features: list[str]
    ) -> bool:
        done = self._state().get(view_name(series))
        if done is None or pd.Timestamp(done) <= new[TIMESTAMP].max():
            return False
        if list(old.columns) != list(new.columns):
            return False
        same = old[old[TIMESTAMP].isin(new[TIMESTAMP])].sort_values(TIMESTAMP)
        if len(same) != len(new):
            return False
        before = same[features].to_numpy(dtype="float64")
        after = new.sort_values(TIMESTAMP)[features].to_numpy(dtype="float64")
        return bool(np.allclose(before, after, rtol=1e-9, atol=0.0, equal_nan=True))

    def _write(self, series: Series, rows: pd.DataFrame) -> None:
        path = self.table_path(series)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, rows.to_parquet(index=False))

    # ----- materialisation ----------------------------------------------------------------------

    def materialize(self, series: Series, last: pd.Timestamp) -> Materialized:
        """Materialise the view of ``series`` up to its bar ``last`` (see the module doc)."""
        view = view_name(series)
        end = last.tz_convert("UTC") + pd.Timedelta(seconds=1)
        state = self._state()
        done = state.get(view)
        if done is not None and pd.Timestamp(done) < end:
            args = ["materialize-incremental", end.strftime(_FORMAT), "--views", view]
        else:
            start = last.tz_convert("UTC") - interval_timedelta(series.interval)
            args = ["materialize", start.strftime(_FORMAT), end.strftime(_FORMAT), "--views", view]
        began = time.perf_counter()
        self.run(args, series=series)
        seconds = time.perf_counter() - began
        state = self._state()
        state[view] = end.isoformat()
        atomic_write(self.home / "materialized.json", json.dumps(state, indent=1).encode())
        log.info("feature store: %s %s in %.1f s", " ".join(args[:1]), view, seconds)
        return Materialized([str(self.settings.feast_script()), *args], end, seconds)

    def run(self, args: list[str], *, series: Series | None = None) -> str:
        """``scripts/feast.sh ARGS`` in Feast's environment; its output, or FeatureStoreError."""
        script = self.settings.feast_script()
        env = {**os.environ, "VOLCAST_DATA_DIR": str(self.data_dir)}
        env["VOLCAST_FEAST_HOME"] = str(self.home)
        if self.settings.repo is not None:
            env["VOLCAST_FEAST_REPO"] = str(self.settings.repo.resolve())
        env["VOLCAST_FEAST_TTL_BARS"] = str(self.settings.ttl_bars)
        context = {"symbol": series.symbol, "interval": series.interval} if series else {}
        try:
            done = subprocess.run(
                [str(script), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=self.settings.materialize_timeout_seconds,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FeatureStoreError(f"{script} {args[0]} failed: {exc}", **context) from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            raise FeatureStoreError(
                f"{script} {args[0]} exited with {done.returncode}: " + " | ".join(tail),
                **context,
            )
        return done.stdout

    def _state(self) -> dict[str, str]:
        path = self.home / "materialized.json"
        if not path.exists():
            return {}
        doc = json.loads(path.read_text())
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
