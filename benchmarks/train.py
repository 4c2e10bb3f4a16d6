"""Benchmark the whole offline pipeline against a minimal research script, in the same run.

Times, each in a fresh subprocess on the real BTC/USD hourly file (~20k bars):

- ``volcast pipeline --source csv --path ../shared/data/coinbase_btcusd_1h.csv --symbol
  BTC/USD --interval 1h --config params.yaml`` with a fresh temporary VOLCAST_DATA_DIR (and
  so a fresh MLflow store under it): ingest -> validate -> features -> train (all-candidate
  walk-forward, final fit, MLflow) -> promote;
- a minimal research script: pandas reads the CSV, Garman-Klass variance, a handful of
  lag/rolling features, one expanding walk-forward LightGBM on log variance with the refit
  cadence (``train.refit_every``, ``train.min_train_bars``) and LightGBM settings
  (``train.lightgbm``, one thread) of params.yaml.

Prints both wall times, their ratio (goal: at most 2x) and both peak memories (each child's
VmHWM polled from /proc/<pid>/status; ru_maxrss would carry the parent's high-water mark
across exec), and the pipeline's stage breakdown: when each stage's summary line appeared
on its stdout, and the walk-forward's own duration from the MLflow run.

    uv run python benchmarks/train.py
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from volcast.config import load_params

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
PARAMS = ROOT / "params.yaml"
STAGES = ("ingest", "validate", "features", "train", "promote")

RESEARCH = r"""
import json, sys
import lightgbm as lgb
import numpy as np
import pandas as pd

path, cfg = sys.argv[1], json.loads(sys.argv[2])
df = pd.read_csv(path, skiprows=1)
df["timestamp"] = pd.to_datetime(df["date"], format="%Y-%m-%d %I-%p", utc=True)
df = df.sort_values("timestamp").drop_duplicates("timestamp").reset_index(drop=True)
o, h, l, c = (np.log(df[k].to_numpy(float)) for k in ("open", "high", "low", "close"))
gk = np.maximum(0.5 * (h - l) ** 2 - (2 * np.log(2) - 1) * (c - o) ** 2, 1e-10)
f = pd.DataFrame({"log_rv": np.log(gk), "ret": np.r_[np.nan, np.diff(c)]})
for k in range(1, 25):
    f[f"lag{k}"] = f["log_rv"].shift(k)
for w in (4, 8, 24, 168):
    r = f["log_rv"].rolling(w)
    f[f"mean{w}"], f[f"std{w}"] = r.mean(), r.std()
f["abs_ret"] = f["ret"].abs()
f["hour"] = df["timestamp"].dt.hour
f["target"] = f["log_rv"].shift(-1)
f = f.dropna().reset_index(drop=True)
X, y = f.drop(columns="target").to_numpy(), f["target"].to_numpy()
params = {**cfg["lightgbm"], "n_jobs": 1, "verbose": -1, "random_state": 42}
first, step = cfg["min_train_bars"] + 1, cfg["refit_every"]
pred = np.empty(len(f) - first)
for s in range(first, len(f), step):
    e = min(s + step, len(f))
    model = lgb.LGBMRegressor(**params).fit(X[: s - 1], y[: s - 1])  # purge: target of s-1
    pred[s - first : e - first] = model.predict(X[s:e])
err = y[first:] - pred
print(json.dumps({"rows": len(f), "folds": len(range(first, len(f), step)),
                  "rmse_logvar": float(np.sqrt(np.mean(err ** 2)))}))
"""


def _peak_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    args: list[str], *, env: dict[str, str], cwd: Path
) -> tuple[float, float, int, list[tuple[float, str]]]:
    """Run ``args``: wall and CPU seconds, peak resident KiB (VmHWM), stdout lines with times.

    CPU seconds (user + system of the child and its waited-for children) do not depend on
    how busy the shared machine is, unlike the wall time.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            value = _peak_kib(proc.pid)
            if value is not None:
                peak = max(peak, value)
            done.wait(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.extend(proc.stderr or []), daemon=True)
    drain.start()
    lines = [(time.perf_counter() - started, line.rstrip()) for line in proc.stdout or []]
    proc.wait()
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    drain.join()
    if proc.returncode != 0:
        tail = "".join(errors)[-3000:]
        raise SystemExit(f"{' '.join(args[:4])} ... exited {proc.returncode}:\n{tail}")
    return wall, _children_cpu() - cpu_before, peak, lines


def _stage_times(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds from the start until each stage's summary line appeared."""
    seen: dict[str, float] = {}
    for at, line in lines:
        word = line.split(" ", 1)[0]
        if word in STAGES and word not in seen:
            seen[word] = at
    return seen


def _walk_forward_seconds(data_dir: Path) -> float | None:
    db = data_dir / "mlflow.db"
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT value FROM metrics WHERE key = 'duration_seconds' LIMIT 1"
        ).fetchone()
    return float(row[0]) if row else None


def main() -> None:
    if not BTC.exists():
        raise SystemExit(f"missing {BTC}")
    train = load_params(PARAMS).train
    cfg = {
        "min_train_bars": train.min_train_bars,
        "refit_every": train.refit_every,
        "lightgbm": dict(train.lightgbm),
    }
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLCAST_", "MLFLOW_"))}
    base_env.update(PYTHONUNBUFFERED="1", YDATA_PROFILING_NO_ANALYTICS="True", COLUMNS="200")
    with tempfile.TemporaryDirectory(prefix="volcast-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        command = [
            sys.executable,
            "-m",
            "volcast",
            "pipeline",
            "--source",
            "csv",
            "--path",
            str(BTC),
            "--symbol",
            "BTC/USD",
            "--interval",
            "1h",
            "--config",
            str(PARAMS),
        ]
        print("running: volcast " + " ".join(command[3:]), file=sys.stderr)
        env = {**base_env, "VOLCAST_DATA_DIR": str(data_dir)}
        wall, cpu, peak, lines = _run(command, env=env, cwd=ROOT)
        stages = _stage_times(lines)
        walk_forward = _walk_forward_seconds(data_dir)
        table = [line for _, line in lines if "│" in line or "walk-forward" in line]
    print("running: research script (pandas + one LightGBM walk-forward)", file=sys.stderr)
    r_wall, r_cpu, r_peak, r_lines = _run(
        [sys.executable, "-c", RESEARCH, str(BTC), json.dumps(cfg)], env=base_env, cwd=ROOT
    )
    research = json.loads(r_lines[-1][1])

    print("\nvolcast pipeline stages (seconds, from process start to the stage's summary line):")
    previous = 0.0
    for stage in STAGES:
        if stage in stages:
            print(f"  {stage:<9}{stages[stage] - previous:>7.1f}   (at {stages[stage]:.1f})")
            previous = stages[stage]
    print(f"  {'exit':<9}{wall - previous:>7.1f}   (at {wall:.1f})")
    print("  ingest includes interpreter start and imports; train = walk-forward + final fit")
    if walk_forward is not None:
        print(f"  of which the walk-forward of every candidate: {walk_forward:.1f} s")
    print("\n".join(f"  {line}" for line in table))
    print(
        f"\nresearch script: {research['rows']} rows, {research['folds']} refits, "
        f"RMSE log var {research['rmse_logvar']:.3f}"
    )
    print(f"\n{'':<18}{'wall s':>8}{'CPU s':>8}{'peak MiB':>10}")
    print(f"{'volcast pipeline':<18}{wall:>8.1f}{cpu:>8.1f}{peak / 1024:>10.0f}")
    print(f"{'research script':<18}{r_wall:>8.1f}{r_cpu:>8.1f}{r_peak / 1024:>10.0f}")
    ratio = wall / r_wall
    verdict = "within" if ratio <= 2.0 else "ABOVE"
    print(
        f"time ratio {ratio:.2f}x wall ({verdict} the 2x goal), {cpu / r_cpu:.2f}x CPU;"
        f" memory ratio {peak / r_peak:.2f}x"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
