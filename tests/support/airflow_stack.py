"""Airflow on CeleryExecutor on one machine, from real parts, for the scale-out test and benchmark.

:func:`celery_stack` starts a throwaway PostgreSQL cluster (Debian's ``initdb``/``postgres``,
run as the ``postgres`` user when we are root: PostgreSQL refuses root), a Redis broker
(``redis-server``, no persistence), an MLflow server (the registry every worker writes to),
and, through ``scripts/airflow.sh`` (Airflow's own environment), the Airflow API server,
scheduler, dag-processor and N Celery workers, all sharing one ``AIRFLOW__*`` environment
and one JWT secret. Each worker reports its own name in the task instances it runs
(``[core] hostname_callable`` = ``volcast_common.worker_hostname``, ``w1``, ``w2``, ...).

Used by tests/integration/test_airflow_celery.py and benchmarks/airflow_scale.py. Missing
system parts raise :class:`MissingPartError` (the test turns it into a skip, or a failure
under VOLCAST_REQUIRE_SYSTEM_DEPS=1); any other start-up problem raises :class:`StackError`
with the tail of the part's log (tests/support/system_servers.py: PostgreSQL and Redis).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import REPO_ROOT
from tests.support.system_servers import (
    START_TIMEOUT,
    MissingPartError,
    StackError,
    free_port,
    poll,
    postgres,
    redis,
    start,
    stop,
    tail,
)

AIRFLOW_SH = REPO_ROOT / "scripts" / "airflow.sh"
VOLCAST_BIN = Path(sys.executable).parent / "volcast"

# Small enough to train in seconds (tests/integration/test_airflow.py trains with them too).
TRAIN_PARAMS = """\
sample:
  n_bars: 1400
profile:
  enabled: false
train:
  candidates: [persistence, ewma, har]
  min_train_bars: 400
  refit_every: 400
promotion:
  window_bars: 200
"""
SYMBOLS = (
    "EUR/USD",
    "GBP/USD",
    "USD/JPY",
    "AUD/USD",
    "USD/CHF",
    "NZD/USD",
    "EUR/GBP",
    "USD/CAD",
    "EUR/JPY",
    "GBP/JPY",
    "AUD/JPY",
    "EUR/CHF",
)


# ----- Airflow ------------------------------------------------------------------------------------


@dataclass
class CeleryStack:
    """A running stack: its environment (for ``scripts/airflow.sh``), URLs and worker names."""

    env: dict[str, str]
    home: Path
    api_url: str
    tracking_uri: str
    workers: list[str] = field(default_factory=list)

    def airflow(self, *args: str, timeout: float = START_TIMEOUT) -> str:
        """``scripts/airflow.sh ARGS`` against this stack; its stdout (StackError on failure)."""
        done = subprocess.run(
            ["bash", str(AIRFLOW_SH), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"airflow {' '.join(args)}: {(done.stderr or done.stdout)[-3000:]}")
        return done.stdout

    def api(self, path: str, **params: Any) -> Any:
        """GET the Airflow REST API (``/api/v2``...); all users are admins in this stack."""
        response = httpx.get(self.api_url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> None:
        """``airflow dags trigger`` (the CLI, as an operator would)."""
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        self.airflow(*args, *(["--conf", json.dumps(conf)] if conf else []))

    def wait_run(self, dag_id: str, run_id: str, *, deadline: float) -> dict[str, Any]:
        """Wait until the run is finished; returns it (StackError when it times out)."""

        def finished() -> dict[str, Any] | None:
            run = self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run: dict[str, Any] = poll(
            finished,
            what=f"{dag_id} run {run_id}",
            deadline=deadline,
            log=self.home / "scheduler.log",
        )
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found = self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)
        return list(found["task_instances"])

    def registered_models(self) -> list[str]:
        """Names of the models registered in the stack's MLflow server."""
        response = httpx.get(
            f"{self.tracking_uri}/api/2.0/mlflow/registered-models/search",
            params={"max_results": 1000},
            timeout=30,
        )
        response.raise_for_status()
        return sorted(m["name"] for m in response.json().get("registered_models", []))


_PREPARE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from volcast.cli.app import run\n"
    "from volcast.cli.options import Options\n"
    "from volcast.pipeline.run import PREPARE, SourceSpec\n"
    "for symbol in sys.argv[2:]:\n"
    "    run(Options(Path(sys.argv[1]), symbol, '1h', SourceSpec('sample')), PREPARE)\n"
)


def start_prepare(
    data_dir: Path, params: Path, symbols: list[str], log: Path
) -> subprocess.Popen[bytes]:
    """Start ingest -> validate -> features of the sample source for ``symbols`` into
    ``data_dir``, in ONE volcast process (the CLI's import time dominates one series' work),
    so that a ``volcast_train`` run has datasets to train on. Finish with :func:`finish`."""
    env = {**os.environ, "VOLCAST_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-c", _PREPARE, str(params), *symbols]
    return start(command, log, env)


def finish(process: subprocess.Popen[bytes], log: Path, *, what: str) -> None:
    """Wait for ``process``; StackError with its log's tail when it fails."""
    if process.wait(timeout=START_TIMEOUT * 2) != 0:
        raise StackError(f"{what} exited {process.returncode}:\n{tail(log)}")


def start_mlflow(root: Path, stack: ExitStack) -> str:
    """Start an MLflow server (SQLite backend, proxied artefacts under ``root``) on a free
    port, stopped with ``stack``; returns its URL at once (wait for ``/health`` later), so
    its slow start-up overlaps the others'. As tests/support/processes.mlflow_server."""
    root.mkdir(parents=True)
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri"]
    command += [f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "art")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no huey consumers: no MLflow jobs
    stack.callback(stop, start(command, root / "mlflow.log", env))
    return f"http://127.0.0.1:{port}"


def instruments_params(symbols: list[str]) -> str:
    """:data:`TRAIN_PARAMS` with ``instruments:`` listing ``symbols`` (sample source, 1h)."""
    lines = "".join(f"  - {{symbol: {s}, interval: 1h, source: sample}}\n" for s in symbols)
    return TRAIN_PARAMS + "instruments:\n" + lines


def ensure_airflow_env(home: Path) -> None:
    """Create Airflow's environment (scripts/airflow.sh, first use) or raise MissingPartError."""
    env = {**os.environ, "AIRFLOW_HOME": str(home), "VOLCAST_DATA_DIR": str(home / "data")}
    try:
        done = subprocess.run(
            ["bash", str(AIRFLOW_SH), "--python", "-c", "import airflow.providers.celery"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MissingPartError("creating the Airflow environment timed out") from exc
    if done.returncode != 0:
        why = done.stderr[-2000:]
        raise MissingPartError(f"the Airflow environment could not be created: {why}")


@contextmanager
def celery_stack(
    root: Path,
    params: Path,
    data_dir: Path,
    *,
    workers: int = 2,
    concurrency: int = 1,
    prepare: list[str] | None = None,
) -> Iterator[CeleryStack]:
    """The whole stack (see the module's docstring) until the context exits; ``params`` is
    the volcast params file the DAGs read, ``data_dir`` the shared data directory. The
    series ``prepare`` lists get their datasets (:func:`start_prepare`) while it starts."""
    home = root / "airflow-home"
    home.mkdir(parents=True)
    with ExitStack() as stack:
        if prepare:
            preparing = start_prepare(data_dir, params, prepare, root / "prepare.log")
            stack.callback(stop, preparing)
        tracking_uri = start_mlflow(root / "mlflow", stack)  # ready-checked below
        ensure_airflow_env(root / "airflow-env-check")
        db = stack.enter_context(postgres(root))
        broker = stack.enter_context(redis(root))
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # runs only when triggered: no scheduled run of the three DAGs joins in
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "volcast_common.worker_hostname",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "VOLCAST_DATA_DIR": str(data_dir),
            "VOLCAST_PARAMS": str(params),
            "VOLCAST_BIN": str(VOLCAST_BIN),
            "VOLCAST_AIRFLOW_RETRIES": "1",
            "VOLCAST_AIRFLOW_RETRY_DELAY_SECONDS": "2",
            "MLFLOW_TRACKING_URI": tracking_uri,
        }
        celery = CeleryStack(env=env, home=home, api_url=api_url, tracking_uri=tracking_uri)
        celery.airflow("version")  # migrates the Postgres metadata DB, imports the pools

        def serve(name: str, *args: str, extra: dict[str, str] | None = None) -> None:
            command = ["bash", str(AIRFLOW_SH), *args]
            process = start(command, home / f"{name}.log", {**env, **(extra or {})})
            stack.callback(stop, process)

        serve(
            "api-server",
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--workers",
            "1",
        )
        serve("scheduler", "scheduler")
        serve("dag-processor", "dag-processor")
        for i in range(1, workers + 1):
            name = f"w{i}"
            serve(
                f"worker-{name}",
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                str(concurrency),
                "--skip-serve-logs",
                "--without-gossip",
                "--without-mingle",
                extra={"VOLCAST_AIRFLOW_HOSTNAME": name},
            )
            celery.workers.append(name)

        def healthy() -> bool:
            health = celery.api("/api/v2/monitor/health")
            return all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "dag_processor")
            )

        poll(
            healthy,
            what="the Airflow API server, scheduler and dag-processor",
            deadline=START_TIMEOUT,
            log=home / "api-server.log",
        )
        poll(
            lambda: celery.api("/api/v2/dags/volcast_train")["dag_id"],
            what="volcast_train to be parsed",
            deadline=START_TIMEOUT,
            log=home / "dag-processor.log",
        )

        def ready(name: str) -> bool:
            return "ready" in (home / f"worker-{name}.log").read_text()

        for name in celery.workers:
            poll(
                partial(ready, name),
                what=f"Celery worker {name}",
                deadline=START_TIMEOUT,
                log=home / f"worker-{name}.log",
            )
        poll(
            lambda: httpx.get(f"{tracking_uri}/health", timeout=5).status_code == 200,
            what="the MLflow server",
            deadline=START_TIMEOUT,
            log=root / "mlflow" / "mlflow.log",
        )
        if prepare:
            finish(preparing, root / "prepare.log", what="preparing the series' datasets")
        yield celery
