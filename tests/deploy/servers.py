"""Helpers of the monitoring-stack tests: the system binaries, waiting, small local servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.helpers import require_binary


def alertmanager_binary() -> str:
    """Debian names Alertmanager's binary ``prometheus-alertmanager``; upstream ``alertmanager``."""
    return shutil.which("alertmanager") or require_binary("prometheus-alertmanager")


@dataclass
class Received:
    """Requests a :func:`recording_server` got: (path, headers, JSON body)."""

    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[tuple[str, dict[str, str], Any]]:
        with self.lock:
            return list(self.requests)


@contextmanager
def recording_server() -> Iterator[tuple[str, Received]]:
    """An HTTP server on a free loopback port that answers 200 and records every POST.

    Stands in for the volcast alert webhook (``POST /alerts/webhook``) until it exists.
    """
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with received.lock:
                received.requests.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def wait_for(check: Callable[[], Any], *, what: str, deadline: float = 60.0) -> Any:
    """Poll ``check()`` until it returns something truthy (returned); fail after ``deadline``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
