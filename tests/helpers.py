"""Test helpers shared by every test package."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
BTC_CSV = SHARED / "data" / "coinbase_btcusd_1h.csv"


def system_deps_required() -> bool:
    """CI sets VOLCAST_REQUIRE_SYSTEM_DEPS=1: a missing system dependency is then a failure."""
    return os.environ.get("VOLCAST_REQUIRE_SYSTEM_DEPS") == "1"


def require_binary(name: str) -> str:
    """Path of the executable ``name``; skip (or fail on CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"system binary {name!r} is not installed (see .ci/run for the apt package)"
        if system_deps_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_file(path: Path) -> Path:
    """``path``; skip (or fail on CI) when the shared data file is missing."""
    if not path.exists():
        message = f"shared data file {path} is missing"
        if system_deps_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the context lasts.

    The port stays bound (without listening) by this process, so no other server can take it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def listening_port(process: subprocess.Popen[bytes], *, timeout: float = 300.0) -> int:
    """The TCP port a server started with port 0 listens on (the OS chose it: no race).

    Replaces picking a "free" port, binding and releasing it before the server binds it (racy
    under xdist: another process may take it meanwhile).

    Looks for a listening socket of ``process`` or of any of its children; fails the test
    when the process exits or nothing listens within ``timeout`` seconds.
    """
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode} before listening")
        try:
            parent = psutil.Process(process.pid)
            for proc in (parent, *parent.children(recursive=True)):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr:
                        return int(conn.laddr.port)
        except psutil.Error:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not listen within {timeout:.0f} s")
