"""What the three volcast DAGs share (not a DAG: listed in ``.airflowignore``).

Runs inside Airflow's own environment and never imports volcast: each task runs the
``volcast`` CLI of the project's virtualenv (``VOLCAST_BIN``) as a subprocess, so Airflow's
pins never constrain volcast's dependencies. The configured series are read from
``params.yaml`` (``VOLCAST_PARAMS``) when the DAG file is parsed, so adding an instrument
there needs no code; a run's conf ``{"symbol", "interval", "source", "path"}`` runs one series.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("volcast.airflow")

REPO = Path(os.environ.get("VOLCAST_REPO") or Path(__file__).resolve().parents[1])
PARAMS = Path(os.environ.get("VOLCAST_PARAMS") or REPO / "params.yaml")
VOLCAST_BIN = os.environ.get("VOLCAST_BIN") or str(REPO / ".venv" / "bin" / "volcast")
OWNER = "volcast-ml-platform"
POOLS_FILE = Path(
    os.environ.get("VOLCAST_AIRFLOW_POOLS") or REPO / "scripts" / "airflow" / "pools.json"
)
SOURCE_POOL_PREFIX = "volcast_source_"
DVC_POOL = "volcast_dvc"
SOURCE_OPTIONS = (
    "path",
    "timestamp_column",
    "timestamp_format",
    "skip_rows",
    "source_timezone",
    "file_format",
)
_INTERVAL = re.compile(r"^(\d+)(min|h|d|w)$")
_UNIT_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def worker_hostname() -> str:
    """The worker's name in its task instances: ``VOLCAST_AIRFLOW_HOSTNAME``, else the FQDN.

    For ``[core] hostname_callable`` (``AIRFLOW__CORE__HOSTNAME_CALLABLE=
    volcast_common.worker_hostname``) when several Celery workers share one host.
    """
    return os.environ.get("VOLCAST_AIRFLOW_HOSTNAME") or socket.getfqdn()


def read_params() -> dict[str, Any]:
    """``params.yaml`` as a mapping (empty when the file is missing)."""
    if not PARAMS.exists():
        return {}
    raw = yaml.safe_load(PARAMS.read_text(encoding="utf-8")) or {}
    return raw if isinstance(raw, dict) else {}


def instruments(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The configured series: ``instruments:``, else the ``data:`` section's one series.

    volcast validates the list itself (``volcast.config.InstrumentParams``) when a task runs.
    """
    params = read_params() if params is None else params
    listed = params.get("instruments") or []
    if not listed:
        data = params.get("data") or {}
        listed = [
            {
                "symbol": data.get("symbol", "EUR/USD"),
                "interval": data.get("interval", "1h"),
                "source": data.get("source", "sample"),
            }
        ]
    return [{"interval": "1h", "source": "sample", **dict(item)} for item in listed]


def series_for_run(conf: dict[str, Any] | None, configured: list[dict[str, Any]]) -> list[dict]:
    """The run conf's one series when it names a symbol, else every configured series."""
    conf = dict(conf or {})
    if not conf.get("symbol"):
        return configured
    series = {"interval": "1h", **{k: v for k, v in conf.items() if v is not None}}
    if "source" not in series:
        series["source"] = "csv" if series.get("path") else "sample"
    return [series]


def source_pools(path: Path | None = None) -> dict[str, str]:
    """Source name -> its Airflow pool (``volcast_source_<source>``), from the pools file.

    The pools file (``scripts/airflow/pools.json``, ``VOLCAST_AIRFLOW_POOLS``) is what
    ``scripts/airflow.sh`` imports with ``airflow pools import``: one pool per provider, its
    slots the number of that provider's ingest tasks allowed to run at once.
    """
    pools = json.loads((path or POOLS_FILE).read_text(encoding="utf-8"))
    return {
        name.removeprefix(SOURCE_POOL_PREFIX): name
        for name in sorted(pools)
        if name.startswith(SOURCE_POOL_PREFIX)
    }


def by_source(chosen: list[dict[str, Any]], pools: dict[str, str]) -> dict[str, list[dict]]:
    """The series grouped by source, one (possibly empty) list per pooled source.

    Raises ``ValueError`` naming the series whose source has no pool in the pools file.
    """
    grouped: dict[str, list[dict]] = {source: [] for source in pools}
    for one in chosen:
        source = str(one.get("source") or "sample").lower()
        if source not in grouped:
            raise ValueError(
                f"{label(one)}: source {source!r} has no Airflow pool "
                f"({SOURCE_POOL_PREFIX}{source} in {POOLS_FILE}); add it there"
            )
        grouped[source].append(one)
    return grouped


def label(series: dict[str, Any]) -> str:
    """``EUR/USD 1h`` (for logs and mapped task names)."""
    return f"{series['symbol']} {series['interval']}"


def slug(symbol: str) -> str:
    """volcast's slug of a symbol (``volcast.schemas.slugify``): EUR/USD -> eurusd."""
    return re.sub(r"[^a-z0-9]", "", symbol.lower())


def interval_seconds(interval: str) -> int:
    """Seconds of a bar interval (as ``volcast.schemas.interval_seconds``)."""
    match = _INTERVAL.match(interval)
    if match is None:
        raise ValueError(f"unknown interval {interval!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def data_dir() -> Path:
    """volcast's data directory (``VOLCAST_DATA_DIR``, as the CLI resolves it)."""
    return Path(os.environ.get("VOLCAST_DATA_DIR") or PARAMS.parent / "data").resolve()


def series_args(series: dict[str, Any]) -> list[str]:
    return ["--symbol", series["symbol"], "--interval", series["interval"]]


def source_args(series: dict[str, Any]) -> list[str]:
    args = ["--source", str(series.get("source") or "sample")]
    for key in SOURCE_OPTIONS:
        if series.get(key) is not None:
            args += ["--" + key.replace("_", "-"), str(series[key])]
    return args


def volcast(*args: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run the project's ``volcast`` CLI (its own venv) with ``params.yaml``; log its output.

    Runs in the params file's folder, so relative paths in ``instruments:`` resolve there.
    Raises ``RuntimeError`` (the task fails and is retried) on an exit code not in ``ok_codes``.
    """
    command = [VOLCAST_BIN, *args, "--config", str(PARAMS)]
    log.info("running %s", " ".join(command))
    done = subprocess.run(command, cwd=PARAMS.parent, capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        log.info("volcast | %s", line)
    if done.returncode not in ok_codes:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"volcast {args[0]} exited {done.returncode}: " + " / ".join(tail))
    return done


def default_args(*, timeout_minutes: int) -> dict[str, Any]:
    """Owner, retries with exponential backoff, timeout and the failure callback.

    ``VOLCAST_AIRFLOW_RETRIES`` and ``VOLCAST_AIRFLOW_RETRY_DELAY_SECONDS`` (read at parse
    time) shorten them for tests.
    """
    return {
        "owner": OWNER,
        "retries": int(os.environ.get("VOLCAST_AIRFLOW_RETRIES", "3")),
        "retry_delay": timedelta(
            seconds=float(os.environ.get("VOLCAST_AIRFLOW_RETRY_DELAY_SECONDS", "60"))
        ),
        "retry_exponential_backoff": 2.0,  # Airflow 3.3: the backoff base (delay x 2^try)
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=timeout_minutes),
        "on_failure_callback": on_failure,
    }


def on_failure(context: dict[str, Any]) -> None:
    """A task failed for good (retries exhausted): post an alert to Alertmanager, else log it.

    Alertmanager's API: ``POST $VOLCAST_ALERTMANAGER_URL/api/v2/alerts``. The alert is also
    appended to ``<AIRFLOW_HOME>/volcast-failures.jsonl`` (what the tests check).
    """
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    exception = context.get("exception")
    alert = {
        "labels": {
            "alertname": "VolcastAirflowTaskFailed",
            "severity": "warning",
            "dag_id": dag_id,
            "task_id": task_id,
            "map_index": str(map_index),
        },
        "annotations": {
            "summary": f"{dag_id}.{task_id}[{map_index}] failed after its retries",
            "description": str(exception)[:2000],
        },
        "startsAt": datetime.now(UTC).isoformat(),
    }
    home = os.environ.get("AIRFLOW_HOME")
    if home:
        with (Path(home) / "volcast-failures.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(alert) + "\n")
    url = os.environ.get("VOLCAST_ALERTMANAGER_URL")
    if not url:
        log.error("volcast task failed (no VOLCAST_ALERTMANAGER_URL): %s", json.dumps(alert))
        return
    request = urllib.request.Request(
        url.rstrip("/") + "/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            log.error("volcast task failed; alert posted to %s (%s)", url, response.status)
    except OSError as exc:
        log.error("volcast task failed; posting the alert to %s failed (%s): %s", url, exc, alert)


# ----- the monitor's decision ------------------------------------------------------------------


def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def retrain_decision(series: dict[str, Any], root: Path, *, cooldown_bars: int) -> tuple[bool, str]:
    """Whether ``series`` needs a retrain now, and why (or why not).

    Due when the live loop's ``state.json`` shows a detector alarming (decay, drift or a
    volatility-level step) or ``events.jsonl`` holds a ``retrain_requested`` (an alert) since
    the last retrain; not while the worker's own retrain is pending, and not within
    ``cooldown_bars`` bars (``monitoring.cooldown_bars``) of the last retrain started by the
    worker (``retrain_started``) or triggered by this DAG (``orchestrator.json``).
    """
    folder = root / "monitoring" / slug(series["symbol"]) / series["interval"]
    state_path = folder / "state.json"
    if not state_path.exists():
        return False, "no monitoring state (no live loop for this series)"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if state.get("retrain_pending"):
        return False, "the live loop's own retrain is pending"
    last_bar = _time(state.get("last_bar"))
    events = _read_events(folder / "events.jsonl")
    retrains = [_time(e.get("time")) for e in events if e.get("event") == "retrain_started"]
    orchestrated = folder / "orchestrator.json"
    if orchestrated.exists():
        retrains.append(_time(json.loads(orchestrated.read_text()).get("triggered_at_bar")))
    last_retrain = max((t for t in retrains if t is not None), default=None)
    if last_retrain is not None and last_bar is not None:
        bars = (last_bar - last_retrain).total_seconds() / interval_seconds(series["interval"])
        if bars < cooldown_bars:
            return False, f"cooldown: {bars:.0f} of {cooldown_bars} bars since the last retrain"
    signals = [
        name for name in ("decay_detected", "drift_detected", "level_detected") if state.get(name)
    ]
    requested = [
        e
        for e in events
        if e.get("event") == "retrain_requested"
        and (last_retrain is None or (_time(e.get("time")) or last_retrain) > last_retrain)
    ]
    if requested:
        signals.append("retrain_requested")
    if not signals:
        return False, "no detector alarming and no retrain requested"
    return True, ", ".join(signals)


def record_trigger(series: dict[str, Any], root: Path, run_id: str) -> None:
    """Note that this DAG triggered a retrain at the series' last bar (for the cooldown)."""
    folder = root / "monitoring" / slug(series["symbol"]) / series["interval"]
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    record = {
        "triggered_at_bar": state.get("last_bar"),
        "run_id": run_id,
        "at": datetime.now(UTC).isoformat(),
    }
    tmp = folder / "orchestrator.json.tmp"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(folder / "orchestrator.json")
