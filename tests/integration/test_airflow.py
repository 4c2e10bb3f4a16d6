"""The Airflow DAGs (dags/), really run by Airflow 3.3 in its own environment.

The environment is created through ``scripts/airflow.sh`` from the committed lock
(scripts/airflow/requirements.txt) on first use: a few minutes on a clean machine (PyPI).
When it cannot be created the tests skip, or fail under VOLCAST_REQUIRE_SYSTEM_DEPS=1 (CI).
Tasks run the ``volcast`` CLI of this test's own virtualenv as subprocesses
(``VOLCAST_BIN``); nothing of volcast is imported into Airflow's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.servers import alertmanager_binary, running_alertmanager
from tests.helpers import REPO_ROOT, require_binary, system_deps_required
from tests.integration.test_cli_pipeline_all import btc_slice
from tests.support.airflow_stack import TRAIN_PARAMS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.xdist_group("airflow"),
    pytest.mark.timeout(1200),
]

AIRFLOW_SH = REPO_ROOT / "scripts" / "airflow.sh"
VOLCAST_BIN = Path(sys.executable).parent / "volcast"
_ENV_TIMEOUT = 900.0
_RUN_TIMEOUT = 600.0  # one `airflow dags test`; the machine may be shared and loaded

# Small enough to train in seconds: the parameters the Celery scale-out test trains with too
PARAMS = TRAIN_PARAMS
EURUSD = {"symbol": "EUR/USD", "interval": "1h", "source": "sample"}
# Alertmanager that keeps what it receives (no notification channel is needed here).
ALERTMANAGER_CONFIG = """\
route:
  receiver: keep
  group_wait: 1s
receivers:
  - name: keep
"""


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create the Airflow environment (first use) and one AIRFLOW_HOME for the session."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "VOLCAST_DATA_DIR": str(home / "data")}
    try:
        done = subprocess.run(
            ["bash", str(AIRFLOW_SH), "version"],
            env=env,
            capture_output=True,
            text=True,
            timeout=_ENV_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        why = "timed out" if done is None else (done.stderr or done.stdout)[-2000:]
        message = f"the Airflow environment could not be created by scripts/airflow.sh: {why}"
        if system_deps_required():
            pytest.fail(message)
        pytest.skip(message)
    assert done.stdout.strip().startswith("3.3"), done.stdout
    return home


@pytest.fixture
def airflow(airflow_home: Path, tmp_path: Path, data_dir: Path) -> AirflowCli:
    return AirflowCli(airflow_home, tmp_path / "params.yaml", data_dir)


class AirflowCli:
    """``scripts/airflow.sh`` with this test's data directory, params file and volcast."""

    def __init__(self, home: Path, params: Path, data_dir: Path) -> None:
        self.home, self.params, self.data_dir = home, params, data_dir
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "VOLCAST_DATA_DIR": str(data_dir),
            "VOLCAST_PARAMS": str(params),
            "VOLCAST_BIN": str(VOLCAST_BIN),
            "VOLCAST_AIRFLOW_RETRIES": "2",
            "VOLCAST_AIRFLOW_RETRY_DELAY_SECONDS": "1",
        }
        self.env.pop("VOLCAST_ALERTMANAGER_URL", None)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(AIRFLOW_SH), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT,
            check=False,
        )

    def dags_test(self, dag_id: str, conf: dict[str, str] | None = None) -> str:
        args = ["dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf else [])
        done = self(*args)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-6000:]
        return output

    def failures(self) -> list[dict]:
        path = self.home / "volcast-failures.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


def _finished(output: str, dag_id: str) -> str:
    """The state of the ``dags test`` run (from Airflow's "DagRun Finished" line)."""
    lines = [line for line in output.splitlines() if "DagRun Finished" in line and dag_id in line]
    assert lines, output[-4000:]
    return lines[-1].split("state=")[1].split(",")[0]


def _pools(home: Path) -> dict[str, int]:
    """The volcast pools in Airflow's metadata DB (pool name -> slots)."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute("select pool, slots from slot_pool where pool like 'volcast%'").fetchall()
    return dict(rows)


def _ingest_pools(home: Path) -> dict[str, set[str]]:
    """Task id -> the pools its successful task instances ran in (``volcast_ingest``)."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select task_id, pool from task_instance where dag_id = 'volcast_ingest' "
            "and state = 'success'"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for task_id, pool in rows:
        found.setdefault(task_id, set()).add(pool)
    return found


def _dvc_repo(root: Path, remote: Path) -> None:
    """``root`` as a git + DVC repository whose default remote is the local folder ``remote``."""
    root.mkdir(parents=True, exist_ok=True)
    dvc = str(VOLCAST_BIN.parent / "dvc")
    for command in (
        ["git", "init", "-q"],
        [dvc, "init", "-q"],
        [dvc, "config", "core.analytics", "false"],
        [dvc, "remote", "add", "-d", "local", str(remote)],
    ):
        subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=_RUN_TIMEOUT)


def _models(data_dir: Path) -> dict[str, list[str]]:
    """Registered model name -> its aliases, from the MLflow SQLite store of the data dir."""
    import sqlite3

    with sqlite3.connect(data_dir / "mlflow.db") as db:
        rows = db.execute("select name from registered_models").fetchall()
        aliases = db.execute("select name, alias from registered_model_aliases").fetchall()
    return {name: sorted(a for n, a in aliases if n == name) for (name,) in rows}


DAGBAG_CHECK = textwrap.dedent(
    """
    import json, os
    from airflow.dag_processing.dagbag import DagBag

    import volcast_common as vc

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    # the configured instruments' symbols per provider group (what the series task returns)
    grouped = vc.by_source(vc.instruments(), vc.source_pools())
    out["groups"] = {k: [s["symbol"] for s in v] for k, v in grouped.items() if v}
    for dag_id, dag in bag.dags.items():
        # a topological order exists (no cycle): Kahn's algorithm on the task graph
        indegree = {t.task_id: len(t.upstream_task_ids) for t in dag.tasks}
        ready = [t for t, n in indegree.items() if n == 0]
        seen = 0
        while ready:
            task_id = ready.pop()
            seen += 1
            for down in dag.get_task(task_id).downstream_task_ids:
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        out["dags"][dag_id] = {
            "acyclic": seen == len(dag.tasks),
            "owners": sorted({t.owner for t in dag.tasks}),
            "tags": sorted(dag.tags),
            "schedule": str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {
                t.task_id: {
                    "retries": t.retries,
                    "backoff": float(t.retry_exponential_backoff),
                    "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "on_failure": bool(t.on_failure_callback),
                    "pool": t.pool,
                }
                for t in dag.tasks
            },
        }
    print("DAGBAG " + json.dumps(out))
    """
)


def test_dagbag_imports_every_dag_with_owners_tags_and_retries(airflow: AirflowCli) -> None:
    airflow.params.write_text(
        PARAMS
        + "instruments:\n"
        + "  - {symbol: EUR/USD, interval: 1h, source: sample}\n"
        + "  - {symbol: BTC/USD, interval: 1h, source: csv, path: btc.csv}\n"
        + "  - {symbol: GBP/USD, interval: 1h, source: twelvedata}\n"
        + "  - {symbol: USD/JPY, interval: 1h, source: twelvedata}\n"
    )
    done = airflow("--python", "-c", DAGBAG_CHECK)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("DAGBAG "))
    bag = json.loads(line.removeprefix("DAGBAG "))
    assert bag["import_errors"] == {}
    assert set(bag["dags"]) == {"volcast_ingest", "volcast_train", "volcast_monitor"}
    for dag_id, dag in bag["dags"].items():
        assert dag["acyclic"], dag_id
        assert dag["owners"] == ["volcast-ml-platform"], dag_id
        assert "volcast" in dag["tags"], dag_id
        assert dag["catchup"] is False, dag_id
        assert dag["max_active_runs"] == 1, dag_id
        for task_id, task in dag["tasks"].items():
            assert task["retries"] >= 1, (dag_id, task_id)
            assert task["backoff"] > 0, (dag_id, task_id)
            assert task["timeout"], (dag_id, task_id)
            assert task["on_failure"], (dag_id, task_id)
    assert bag["dags"]["volcast_monitor"]["schedule"] == "*/15 * * * *"
    assert "one_series.notify" in bag["dags"]["volcast_train"]["tasks"]
    # one pool per provider: each configured series lands in its source's group, whose ingest
    # runs in that source's pool (the version step in the one-writer DVC pool)
    assert bag["groups"] == {
        "sample": ["EUR/USD"],
        "csv": ["BTC/USD"],
        "twelvedata": ["GBP/USD", "USD/JPY"],
    }
    ingest = bag["dags"]["volcast_ingest"]["tasks"]
    pools = json.loads((REPO_ROOT / "scripts" / "airflow" / "pools.json").read_text())
    for source in ("sample", "csv", "twelvedata"):
        assert ingest[f"{source}.ingest"]["pool"] == f"volcast_source_{source}"
        assert ingest[f"{source}.validate"]["pool"] == "default_pool"
        assert ingest[f"{source}.version"]["pool"] == "volcast_dvc"
    providers = {t.split(".")[0] for t in ingest if t.endswith(".ingest")}
    assert {f"volcast_source_{p}" for p in providers} | {"volcast_dvc"} == set(pools)
    # the pools exist in Airflow after scripts/airflow.sh set it up, with the file's slots
    assert _pools(airflow.home) == {name: pool["slots"] for name, pool in pools.items()}


def test_ingest_then_train_one_series_from_conf(airflow: AirflowCli) -> None:
    airflow.params.write_text(PARAMS)  # no instruments: the conf names the series
    out = airflow.dags_test("volcast_ingest", EURUSD)
    assert _finished(out, "volcast_ingest") == "success"
    assert (airflow.data_dir / "curated" / "eurusd" / "1h" / "bars.parquet").is_file()
    assert "versioning skipped" in out  # no DVC repo configured
    out = airflow.dags_test("volcast_train", EURUSD)
    assert _finished(out, "volcast_train") == "success"
    assert "notification: volcast EUR/USD 1h: challenger promoted" in out
    assert "Model comparison: EUR/USD 1h" in out  # the promotion report is the body
    assert _models(airflow.data_dir) == {"volcast-eurusd-1h": ["challenger", "champion"]}


def test_two_series_from_instruments(airflow: AirflowCli, tmp_path: Path) -> None:
    """Two providers' series, each ingested in its provider's pool and versioned with DVC."""
    require_binary("git")
    btc = btc_slice(tmp_path)
    remote = tmp_path / "dvc-remote"
    _dvc_repo(airflow.data_dir, remote)  # the data directory is the versioning repository
    airflow.env["VOLCAST_DVC_REPO"] = str(airflow.data_dir)
    airflow.params.write_text(
        PARAMS
        + "instruments:\n"
        + "  - {symbol: EUR/USD, interval: 1h, source: sample}\n"
        + f"  - {{symbol: BTC/USD, interval: 1h, source: csv, path: {btc}}}\n"
    )
    out = airflow.dags_test("volcast_ingest")
    assert _finished(out, "volcast_ingest") == "success"
    for slug in ("eurusd", "btcusd"):
        assert (airflow.data_dir / "curated" / slug / "1h" / "bars.parquet").is_file()
    ran = _ingest_pools(airflow.home)
    assert ran["sample.ingest"] == {"volcast_source_sample"}
    assert ran["csv.ingest"] == {"volcast_source_csv"}
    assert ran["sample.version"] == ran["csv.version"] == {"volcast_dvc"}
    # the version step: dvc add, dvc push to the remote, git commit of the .dvc file
    for slug in ("eurusd", "btcusd"):
        meta = yaml.safe_load((airflow.data_dir / "curated" / slug / "1h.dvc").read_text())
        digest = meta["outs"][0]["md5"]  # the folder's manifest, "<md5>.dir"
        manifest = remote / "files" / "md5" / digest[:2] / digest[2:]
        assert manifest.is_file(), sorted(str(p) for p in remote.rglob("*"))
        for entry in json.loads(manifest.read_text()):  # every file of the folder is pushed
            assert (remote / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]).is_file()
    committed = subprocess.run(
        ["git", "log", "--format=%s", "--name-only"],
        cwd=airflow.data_dir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "volcast: curated EUR/USD 1h" in committed
    assert "curated/btcusd/1h.dvc" in committed
    out = airflow.dags_test("volcast_train")
    assert _finished(out, "volcast_train") == "success"
    assert _models(airflow.data_dir) == {
        "volcast-eurusd-1h": ["challenger", "champion"],
        "volcast-btcusd-1h": ["challenger", "champion"],
    }


def test_a_source_that_is_down_retries_fails_and_alerts(
    airflow: AirflowCli, tmp_path: Path
) -> None:
    """The failure callback posts to a real Alertmanager (the Debian binary)."""
    alertmanager_binary()
    airflow.params.write_text(PARAMS)
    for stage in (["ingest", "--source", "sample"], ["validate"]):  # curated bars exist before
        subprocess.run(
            [str(VOLCAST_BIN), *stage, "--symbol", "EUR/USD", "--config", str(airflow.params)],
            env=airflow.env,
            check=True,
            capture_output=True,
            timeout=_RUN_TIMEOUT,
        )
    curated = airflow.data_dir / "curated" / "eurusd" / "1h" / "bars.parquet"
    before = curated.read_bytes()
    known = len(airflow.failures())
    gone = {"symbol": "EUR/USD", "interval": "1h", "source": "csv", "path": str(tmp_path / "x")}
    am_root = tmp_path / "alertmanager"
    am_root.mkdir()
    config = am_root / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG)
    with running_alertmanager(am_root, config) as am_url:
        airflow.env["VOLCAST_ALERTMANAGER_URL"] = am_url
        done = airflow("dags", "test", "volcast_ingest", "-c", json.dumps(gone))
        out = done.stdout + done.stderr
        assert _finished(out, "volcast_ingest") == "failed"
        assert out.count("volcast ingest exited") >= 3, out[-4000:]  # first try + 2 retries
        assert f"alert posted to {am_url} (200)" in out, out[-4000:]
        alerts = httpx.get(
            f"{am_url}/api/v2/alerts",
            params={"filter": 'alertname="VolcastAirflowTaskFailed"'},
            timeout=10,
        ).json()
    assert [a["labels"]["task_id"] for a in alerts] == ["csv.ingest"], alerts
    assert alerts[0]["labels"]["dag_id"] == "volcast_ingest"
    assert alerts[0]["labels"]["map_index"] == "0"
    assert alerts[0]["status"]["state"] == "active"
    assert "volcast ingest exited" in alerts[0]["annotations"]["description"]
    new = airflow.failures()[known:]
    assert [a["labels"]["task_id"] for a in new] == ["csv.ingest"]
    assert curated.read_bytes() == before  # nothing curated changed


def _state(data_dir: Path, slug: str, *, events: tuple[dict, ...] = (), **flags: bool) -> None:
    folder = data_dir / "monitoring" / slug / "1h"
    folder.mkdir(parents=True, exist_ok=True)
    state = {"last_bar": "2024-03-21T06:00:00+00:00", "retrain_pending": False, **flags}
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _train_runs(home: Path) -> dict[str, dict]:
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select run_id, conf from dag_run where dag_id = 'volcast_train' "
            "and run_id like 'monitor__%'"
        ).fetchall()
    return {run_id: json.loads(conf) for run_id, conf in rows}


def test_monitor_triggers_train_for_exactly_the_series_due(airflow: AirflowCli) -> None:
    airflow.params.write_text(
        PARAMS
        + "monitoring:\n  cooldown_bars: 24\n"
        + "instruments:\n"
        + "".join(f"  - {{symbol: {s}, interval: 1h}}\n" for s in ("AUD/USD", "NZD/USD", "CHF/JPY"))
    )
    _state(airflow.data_dir, "audusd", drift_detected=True)  # due
    _state(airflow.data_dir, "nzdusd")  # quiet
    recent = {"time": "2024-03-21T00:00:00+00:00", "event": "retrain_started", "detail": {}}
    _state(airflow.data_dir, "chfjpy", events=(recent,), decay_detected=True)  # 6 bars: cooldown
    before = set(_train_runs(airflow.home))
    out = airflow.dags_test("volcast_monitor")
    assert _finished(out, "volcast_monitor") == "success"
    assert "AUD/USD 1h: retrain (drift_detected)" in out
    assert "NZD/USD 1h: no retrain" in out
    assert "CHF/JPY 1h: no retrain (cooldown: 6 of 24 bars" in out
    new = {k: v for k, v in _train_runs(airflow.home).items() if k not in before}
    assert [conf["symbol"] for conf in new.values()] == ["AUD/USD"]
    # the retrain it triggered starts the cooldown: the next run triggers nothing
    out = airflow.dags_test("volcast_monitor")
    assert "AUD/USD 1h: no retrain (cooldown: 0 of 24 bars" in out
    assert len(_train_runs(airflow.home)) == len(before) + 1
