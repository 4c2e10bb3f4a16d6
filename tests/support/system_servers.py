"""Throwaway servers from the system's packages, and the process plumbing of the stacks.

PostgreSQL (Debian's ``initdb``/``postgres``, as the ``postgres`` user when we are root:
PostgreSQL refuses root) and Redis (``redis-server``, no persistence), each on a free
loopback port; :func:`poll` for readiness; processes started in their own session and
stopped with their children. Used by :mod:`tests.support.airflow_stack`. A missing binary
raises :class:`MissingPartError`, anything else that does not start :class:`StackError`
with the tail of its log. No pytest here: benchmarks/airflow_scale.py uses it too.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 300.0  # the machine is shared: start-ups get a generous deadline


class MissingPartError(RuntimeError):
    """A system part (PostgreSQL, Redis, the Airflow environment) is not installed."""


class StackError(RuntimeError):
    """A part of the stack did not start or a run did not finish."""


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no {path.name})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A loopback port free right now (for servers that cannot be told to pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], Any], *, what: str, deadline: float, log: Path | None = None) -> Any:
    """``check()`` until truthy (returned); an HTTP or OS error counts as not yet."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise StackError(
        f"timed out after {deadline:.0f} s waiting for {what}\n{tail(log) if log else ''}"
    )


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A server in its own session (stopped with its children), output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal ``process``'s session; SIGKILL it when it has not exited in 30 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


# ----- PostgreSQL and Redis ---------------------------------------------------------------------


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (newest version), or MissingPartError."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: p.split("/")[4])
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise MissingPartError("PostgreSQL's initdb is not installed (apt package postgresql)")


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the ``postgres`` user then (``runuser``)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise MissingPartError("as root, PostgreSQL needs runuser (util-linux) to drop root")
    return [runuser, "-u", "postgres", "--", *command]


@contextmanager
def postgres(log_dir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its database URL
    (``postgresql+psycopg2://airflow@127.0.0.1:PORT/airflow``). Removed afterwards."""
    bindir = postgres_bin()
    # a folder the postgres user can reach (pytest's tmp folders are private to root)
    root = Path(tempfile.mkdtemp(prefix="volcast-pg-"))
    log = log_dir / "postgres.log"
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user="postgres", group="postgres")
        initdb = [str(bindir / "initdb"), "-D", str(root / "data"), "-U", "airflow"]
        initdb += ["--auth=trust", "-E", "UTF8", "--no-sync"]
        done = subprocess.run(
            _as_postgres_user(initdb), capture_output=True, text=True, timeout=START_TIMEOUT
        )
        if done.returncode != 0:
            raise StackError(f"initdb failed: {done.stderr[-2000:]}")
        port = free_port()
        server = start(
            _as_postgres_user(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(root / "data"),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(root),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=300",
                ]
            ),
            log,
        )
        try:
            isready = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
            poll(
                lambda: (
                    server.poll() is None
                    and subprocess.run(isready, capture_output=True).returncode == 0
                ),
                what="PostgreSQL",
                deadline=START_TIMEOUT,
                log=log,
            )
            createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
            subprocess.run([*createdb, "-U", "airflow", "airflow"], check=True, timeout=60)
            yield f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"
        finally:
            stop(server, signal.SIGINT)  # "fast" shutdown: do not wait for clients
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


@contextmanager
def redis(log_dir: Path) -> Iterator[str]:
    """``redis-server`` on a free loopback port, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise MissingPartError("redis-server is not installed (apt package redis-server)")
    port = free_port()
    log = log_dir / "redis.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(log_dir)]
    server = start(command, log)
    try:
        poll(lambda: _redis_ping(port), what="Redis", deadline=START_TIMEOUT, log=log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server)
