"""test -> master: smoke-test a running forecast service (the freshly built container).

Waits for ``GET /health`` (liveness) and ``GET /ready`` (champion loaded, data fresh), then
``POST /predict`` for ``--symbol`` must answer a positive variance, its volatility and the
model that made it (``--expect-version``: the champion version the image was tagged with).
Exits 1 naming the first check that failed.

    python scripts/ci/smoke_test.py --url http://127.0.0.1:8000 --symbol EUR/USD --expect-version 7
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import httpx


class SmokeError(Exception):
    """A smoke check failed."""


def wait_ok(client: httpx.Client, path: str, deadline: float) -> httpx.Response:
    """GET ``path`` until it answers 200 or ``deadline`` (monotonic seconds) passes."""
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get(path)
            if response.status_code == 200:
                return response
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1.0)
    raise SmokeError(f"GET {path} never answered 200 ({last})")


def smoke(
    url: str, symbol: str, *, expect_version: int | None, timeout: float
) -> dict[str, object]:
    """Run the three checks; returns the forecast."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10.0) as client:
        wait_ok(client, "/health", deadline)
        print("ok: /health")
        wait_ok(client, "/ready", deadline)
        print("ok: /ready")
        response = client.post("/predict", json={"symbol": symbol})
        if response.status_code != 200:
            raise SmokeError(f"POST /predict: HTTP {response.status_code}: {response.text[:300]}")
        body = response.json()
    variance = float(body.get("variance", float("nan")))
    if not (math.isfinite(variance) and variance > 0):
        raise SmokeError(f"POST /predict: variance {body.get('variance')!r} is not positive")
    if not math.isclose(float(body["volatility"]), math.sqrt(variance), rel_tol=1e-6):
        raise SmokeError("POST /predict: volatility is not the square root of the variance")
    model = body.get("model") or {}
    if expect_version is not None and int(model.get("version", -1)) != expect_version:
        raise SmokeError(
            f"POST /predict: served by version {model.get('version')}, expected {expect_version}"
        )
    print(f"ok: /predict {symbol} volatility {body['volatility']:.6g} by {model}")
    return dict(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--expect-version", type=int)
    parser.add_argument("--timeout", type=float, default=180.0, help="Seconds to become ready")
    args = parser.parse_args(argv)
    try:
        smoke(args.url, args.symbol, expect_version=args.expect_version, timeout=args.timeout)
    except SmokeError as exc:
        print(f"smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
