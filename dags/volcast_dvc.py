"""The version step of ``volcast_ingest``: DVC add + push (+ git commit) of curated bars.

Not a DAG (listed in ``.airflowignore``); runs inside Airflow's environment and calls the
``dvc`` of volcast's virtualenv (or ``VOLCAST_DVC_BIN``) as a subprocess.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import volcast_common as vc
import yaml

log = logging.getLogger("volcast.airflow")


def dvc_bin() -> str:
    """``VOLCAST_DVC_BIN``, else the ``dvc`` of volcast's virtualenv, else ``dvc`` on the PATH."""
    beside = Path(vc.VOLCAST_BIN).parent / "dvc"
    explicit = os.environ.get("VOLCAST_DVC_BIN")
    return explicit or (str(beside) if beside.exists() else shutil.which("dvc") or "dvc")


def _run_logged(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "GIT_AUTHOR_NAME": "volcast-airflow",
        "GIT_AUTHOR_EMAIL": "volcast-airflow@localhost",
        "GIT_COMMITTER_NAME": "volcast-airflow",
        "GIT_COMMITTER_EMAIL": "volcast-airflow@localhost",
        **os.environ,
    }
    log.info("running %s", " ".join(command))
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        log.info("%s | %s", Path(command[0]).name, line)
    return done


def _check(done: subprocess.CompletedProcess[str], command: list[str]) -> None:
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{Path(command[0]).name} {command[1]} exited {done.returncode}: {tail}")


def version_curated(series: dict[str, Any], repo: Path) -> str:
    """Version a series' curated bars in the DVC repository ``repo``: ``dvc add`` (hash and
    commit to the cache), ``dvc push`` to the repo's default remote, then, when ``repo`` is a
    git repository, a git commit of the ``.dvc`` file. Returns the pushed folder's hash.

    The curated folder must lie inside ``repo`` (the data directory, or a repository holding
    it, but not the project's own repository: its ``dvc.yaml`` already tracks
    ``data/curated`` as a stage output). Raises ``RuntimeError`` on a failing command.
    """
    target = vc.data_dir() / "curated" / vc.slug(series["symbol"]) / series["interval"]
    if not target.is_dir():
        raise RuntimeError(f"{vc.label(series)}: no curated bars at {target}")
    rel = os.path.relpath(target, repo.resolve())
    if rel.startswith(".."):
        raise RuntimeError(f"{target} is not inside the DVC repository {repo}")
    dvc_file = rel + ".dvc"
    ignore = os.path.join(os.path.dirname(rel), ".gitignore")
    git = (repo / ".git").exists()
    steps = [[dvc_bin(), "add", rel], [dvc_bin(), "push", dvc_file]]
    steps += [["git", "add", dvc_file, ignore]] if git else []
    for command in steps:
        _check(_run_logged(command, repo), command)
    staged = ["git", "diff", "--cached", "--quiet", "--", dvc_file, ignore]
    if git and _run_logged(staged, repo).returncode == 1:  # changed: commit the .dvc file
        message = f"volcast: curated {vc.label(series)}"
        command = ["git", "commit", "--quiet", "-m", message, "--", dvc_file, ignore]
        _check(_run_logged(command, repo), command)
    meta = yaml.safe_load((repo / dvc_file).read_text(encoding="utf-8"))
    return str(meta["outs"][0]["md5"])
