"""Test helpers shared by every test package."""

from __future__ import annotations

import os
import shutil
import socket
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


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
