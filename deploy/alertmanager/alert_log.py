#!/usr/bin/env python3
"""The offline alert receiver: appends every Alertmanager webhook notification to a file.

Alertmanager has no file receiver and does not log the alerts it sends, so the default
offline setup points its `critical` and `warning` receivers at this small server. Each POST
becomes one JSON line: ``{"received": <UTC ISO-8601>, "channel": <URL path without the
slash>, "notification": <Alertmanager's webhook payload>}``. Standard library only.

    python3 deploy/alertmanager/alert_log.py --port 9095 --file /var/log/volcast/alerts.jsonl

``--port 0`` lets the OS choose a free port; the port listened on is printed on stdout as
``listening on <host>:<port>``. SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_MAX_BODY = 10 * 1024 * 1024


def make_handler(path: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > _MAX_BODY:
                self.send_error(400, "expected a JSON body")
                return
            try:
                payload: Any = json.loads(self.rfile.read(length))
            except ValueError:
                self.send_error(400, "body is not JSON")
                return
            record = {
                "received": datetime.now(UTC).isoformat(),
                "channel": self.path.strip("/") or "default",
                "notification": payload,
            }
            line = json.dumps(record, sort_keys=True) + "\n"
            with _LOCK, path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # liveness
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"alert_log: {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9095)
    parser.add_argument("--file", type=Path, default=Path("alerts.jsonl"))
    args = parser.parse_args(argv)
    args.file.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.file))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
