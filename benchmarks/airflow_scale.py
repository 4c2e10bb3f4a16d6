"""Wall time of ``volcast_train`` over 4 and 8 instruments with 1 and 2 Celery workers.

One command, prints the table of docs/orchestration.md:

    uv run python benchmarks/airflow_scale.py [--workers 1 2] [--instruments 4 8] [--concurrency 1]

For each worker count it starts the real stack of the scale-out test once
(tests/support/airflow_stack.py: PostgreSQL, Redis, MLflow server, Airflow API server,
scheduler, dag-processor and N Celery workers, ``concurrency`` task slots each), then for
each instrument count writes that many sample series to ``instruments:`` and times one
``volcast_train`` run from ``airflow dags trigger`` to the run's end (the run's own
``start_date``/``end_date`` from the REST API are printed too). Every run trains series
never trained before in that stack (12 prepared sample series, 4 + 8), with the small
training parameters of the tests (three candidates, 1,400 bars). Stack start-up is not
in the figures; the last column is the 1-minute load average at the run's end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.airflow_stack import (
    SYMBOLS,
    celery_stack,
    finish,
    instruments_params,
    start_prepare,
)


def _seconds(run: dict[str, str]) -> float:
    start = datetime.fromisoformat(run["start_date"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--instruments", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    args = parser.parse_args()
    needed = sum(args.instruments)
    symbols = list(SYMBOLS[:needed])
    if len(symbols) < needed:
        parser.error(f"at most {len(SYMBOLS)} instruments in all")
    rows: list[tuple[int, int, float, float, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="volcast-airflow-scale-") as tmp:
        root = Path(tmp)
        template = root / "prepared"
        params = root / "params.yaml"
        params.write_text(instruments_params(symbols))
        started = time.monotonic()
        finish(
            start_prepare(template, params, symbols, root / "prepare.log"),
            root / "prepare.log",
            what="preparing the datasets",
        )
        print(f"prepared {needed} series in {time.monotonic() - started:.0f} s", flush=True)
        for workers in args.workers:
            stack_root = root / f"workers-{workers}"
            data_dir = stack_root / "data"
            shutil.copytree(template, data_dir)
            started = time.monotonic()
            with celery_stack(
                stack_root, params, data_dir, workers=workers, concurrency=args.concurrency
            ) as stack:
                print(f"{workers} worker(s): stack up in {time.monotonic() - started:.0f} s")
                offset = 0
                for count in args.instruments:
                    chosen = symbols[offset : offset + count]
                    offset += count
                    params.write_text(instruments_params(chosen))  # read by the series task
                    run_id = f"bench_{workers}w_{count}i"
                    started = time.monotonic()
                    stack.trigger("volcast_train", run_id)
                    run = stack.wait_run("volcast_train", run_id, deadline=3600)
                    wall = time.monotonic() - started
                    hosts = sorted(
                        {
                            t["hostname"]
                            for t in stack.task_instances("volcast_train", run_id)
                            if t["task_id"].startswith("one_series.")
                        }
                    )
                    load = f"{os.getloadavg()[0]:.1f}"  # the machine may be shared: say so
                    rows.append((count, workers, wall, _seconds(run), ",".join(hosts), load))
                    print(f"  {count} instruments: {run['state']} in {wall:.0f} s", flush=True)
                    if run["state"] != "success":
                        raise SystemExit(f"{run_id} ended {run['state']}")
    print()
    print(f"{os.cpu_count()} cores; concurrency {args.concurrency} per worker")
    print("| instruments | Celery workers | wall time (trigger to end) | DAG run | ran on | load |")
    print("|---|---|---|---|---|---|")
    for count, workers, wall, run_seconds, ran_on, load in rows:
        print(f"| {count} | {workers} | {wall:.0f} s | {run_seconds:.0f} s | {ran_on} | {load} |")


if __name__ == "__main__":
    main()
