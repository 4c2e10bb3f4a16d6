"""Serving benchmark: `volcast serve` vs `mlflow models serve` on the same champion.

Builds a throwaway world with ``volcast pipeline`` (SYNTHETIC sample bars, every candidate
trained, the winner promoted to ``@champion`` in a SQLite MLflow registry), starts both
servers on loopback with one worker each, and drives each with the same bounded async httpx
load (concurrency 1 and 16, a fixed number of requests). volcast answers a forecast *by
symbol* (``{"symbol": "EUR/USD"}``: precomputed from its in-memory bars once per bar); mlflow
gets the ready-made latest feature row (``dataframe_split``), which favours mlflow (and is
not even a correct forecast when the champion is sequential). Prints throughput,
p50/p95/p99 latency and resident memory (server process tree) of both, and their ratios.

    uv run python benchmarks/serve.py [--requests 2000] [--params params.yaml]

``--feast`` measures the feature store's online path instead (docs/feature-store.md): the
world is built with ``VOLCAST_FEAST_REPO`` set (the ``features`` stage materialises into
Feast's SQLite online store; candidates limited to the non-sequential ``har`` and
``lightgbm_har``, since a sequential champion cannot be scored from one feature row), then
``scripts/feast.sh serve`` and two ``volcast serve``: one computing features from its
in-memory bars, one reading them per request from the feature server
(``VOLCAST_SERVE_FEATURES=feast``). Also the feature server's own ``/get-online-features``.

    uv run python benchmarks/serve.py --feast [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

from volcast.registry import CHAMPION
from volcast.registry.pyfunc import to_signature_frame
from volcast.schemas import TIMESTAMP
from volcast.storage import Layout, Storage

SYMBOL, INTERVAL = "EUR/USD", "1h"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_world(
    root: Path, params_file: Path, *, feast: bool = False
) -> tuple[str, dict[str, object]]:
    """Run ``volcast pipeline`` (sample source) in ``root``; returns (tracking URI, mlflow body).

    The champion is whatever the pipeline promotes (any candidate). mlflow gets the latest
    complete dataset row in the logged signature's form (naive-UTC timestamp).
    """
    shutil.copy(params_file, root / "params.yaml")
    env = {**os.environ, "VOLCAST_DATA_DIR": str(root / "data")}
    if feast:
        import yaml

        doc = yaml.safe_load(params_file.read_text()) or {}
        doc.setdefault("train", {})["candidates"] = ["har", "lightgbm_har"]
        doc.setdefault("profile", {})["enabled"] = False
        (root / "params.yaml").write_text(yaml.safe_dump(doc))
        env["VOLCAST_FEAST_REPO"] = str(REPO / "feature_repo")
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(
        [sys.executable, "-m", "volcast", "pipeline"],
        cwd=root, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    storage = Storage(root / "data")
    dataset = storage.read_parquet(Layout(SYMBOL, INTERVAL).dataset)
    names = [
        str(n) for n in storage.read_json(Layout(SYMBOL, INTERVAL).dataset_meta)["feature_names"]
    ]
    inputs = [TIMESTAMP, *names, "rv"]
    last = to_signature_frame(dataset[inputs].dropna().iloc[[-1]])
    body = {
        "dataframe_split": json.loads(last.to_json(orient="split", index=False, date_format="iso"))
    }
    return f"sqlite:///{root / 'data' / 'mlflow.db'}", body


async def _load(url: str, body: dict[str, object], *, n: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                response = await client.post(url, json=body)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def measure(
    url: str, body: dict[str, object], *, n: int, concurrency: int
) -> tuple[float, float, float, float]:
    """Throughput (req/s) and p50/p95/p99 latency (ms) of ``n`` requests after a warm-up."""
    asyncio.run(_load(url, body, n=min(200, n), concurrency=concurrency))
    start = time.perf_counter()
    latencies = asyncio.run(_load(url, body, n=n, concurrency=concurrency))
    elapsed = time.perf_counter() - start
    p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
    return n / elapsed, float(p50), float(p95), float(p99)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def wait_ready(url: str, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server at {url} did not become ready")


def print_rows(rows: list[tuple[int, str, tuple[float, float, float, float]]]) -> None:
    print(f"\n{'conc':>4} {'path':>24} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for concurrency, name, r in rows:
        print(f"{concurrency:>4} {name:>24} {r[0]:>9.1f} {r[1]:>8.2f} {r[2]:>8.2f} {r[3]:>8.2f}")


def main_feast(args: argparse.Namespace) -> None:
    """volcast /predict from in-memory bars vs from the Feast feature server (SQLite store)."""
    root = Path(tempfile.mkdtemp(prefix="volcast-bench-feast-"))
    print(f"world in {root}: volcast pipeline on the SYNTHETIC sample, Feast on", flush=True)
    uri, _ = build_world(root, args.params.resolve(), feast=True)
    data = root / "data"
    env = {**os.environ, "VOLCAST_DATA_DIR": str(data), "MLFLOW_TRACKING_URI": uri}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    f_port, bars_port, feast_port = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [str(REPO / "scripts" / "feast.sh"), "serve", "--host", "127.0.0.1", "--port",
         str(f_port), "--no-access-log"],
        env={**env, "HOME": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    serves = []
    for port, features in ((bars_port, "bars"), (feast_port, "feast")):
        serve_env = {**env, "VOLCAST_SERVE_FEATURES": features}
        serve_env["VOLCAST_FEAST_URL"] = f"http://127.0.0.1:{f_port}"
        serves.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "volcast",
                    "serve",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=serve_env,
                cwd=root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    meta = json.loads((data / "datasets" / "eurusd" / "1h" / "meta.json").read_text())
    online_body = {
        "features": [f"volcast_eurusd_1h:{n}" for n in [*meta["feature_names"], "rv"]],
        "entities": {"series": ["eurusd/1h"]},
    }
    try:
        wait_ready(f"http://127.0.0.1:{f_port}/health")
        # the feature server's first read loads its registry: warm it before volcast asks
        httpx.post(f"http://127.0.0.1:{f_port}/get-online-features", json=online_body, timeout=60)
        for port in (bars_port, feast_port):
            wait_ready(f"http://127.0.0.1:{port}/ready")
        for _ in range(3):
            answer = httpx.post(f"http://127.0.0.1:{feast_port}/predict", json={"symbol": SYMBOL})
            served = answer.json()
            if served.get("input") == "feast":
                break
        if served.get("input") != "feast":
            ready = httpx.get(f"http://127.0.0.1:{feast_port}/ready").json()
            raise SystemExit(f"the feast server answered from {served.get('input')}: {ready}")
        print(f"champion {served['model']['name']} v{served['model']['version']}")
        rows = []
        for concurrency in (1, 16):
            for name, url, body in (
                ("volcast in-memory bars", f"http://127.0.0.1:{bars_port}/predict",
                 {"symbol": SYMBOL}),
                ("volcast via Feast", f"http://127.0.0.1:{feast_port}/predict",
                 {"symbol": SYMBOL}),
                ("feast get-online-features", f"http://127.0.0.1:{f_port}/get-online-features",
                 online_body),
            ):  # fmt: skip
                rows.append(
                    (
                        concurrency,
                        name,
                        measure(url, body, n=args.requests, concurrency=concurrency),
                    )
                )
    finally:
        for proc in (*serves, server):
            proc.terminate()
            proc.wait(timeout=30)
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument(
        "--feast", action="store_true", help="in-memory features vs the Feast feature server"
    )
    args = parser.parse_args()
    if args.feast:
        main_feast(args)
        return
    root = Path(tempfile.mkdtemp(prefix="volcast-bench-serve-"))
    print(f"world in {root}: volcast pipeline on the SYNTHETIC sample", flush=True)
    uri, mlflow_body = build_world(root, args.params.resolve())
    env = {**os.environ, "VOLCAST_DATA_DIR": str(root / "data"), "MLFLOW_TRACKING_URI": uri}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    v_port, m_port = free_port(), free_port()
    volcast = subprocess.Popen(
        [sys.executable, "-m", "volcast", "serve", "--port", str(v_port),
         "--log-level", "warning"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    mlflow = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m",
         f"models:/volcast-eurusd-1h@{CHAMPION}", "--env-manager", "local",
         "-p", str(m_port), "-h", "127.0.0.1", "-w", "1"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{v_port}/ready")
        wait_ready(f"http://127.0.0.1:{m_port}/ping")
        rows = []
        for concurrency in (1, 16):
            v = measure(f"http://127.0.0.1:{v_port}/predict", {"symbol": SYMBOL},
                        n=args.requests, concurrency=concurrency)  # fmt: skip
            m = measure(f"http://127.0.0.1:{m_port}/invocations", mlflow_body,
                        n=args.requests, concurrency=concurrency)  # fmt: skip
            rows.append((concurrency, v, m))
        v_mem, m_mem = rss_mb(volcast.pid), rss_mb(mlflow.pid)
    finally:
        for proc in (volcast, mlflow):
            proc.terminate()
            proc.wait(timeout=30)
    print(f"\n{'conc':>4} {'server':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for concurrency, v, m in rows:
        for name, r in (("volcast", v), ("mlflow", m)):
            print(f"{concurrency:>4} {name:>8} {r[0]:>9.1f} {r[1]:>8.2f} {r[2]:>8.2f} {r[3]:>8.2f}")
        print(
            f"{concurrency:>4} {'ratio':>8} {v[0] / m[0]:>8.1f}x "
            f"p99 volcast/mlflow {v[3] / m[3]:.2f}"
        )
    print(f"\nresident memory: volcast {v_mem:.0f} MiB, mlflow {m_mem:.0f} MiB "
          f"(ratio {v_mem / m_mem:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
