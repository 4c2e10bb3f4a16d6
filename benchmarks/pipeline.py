"""Benchmark the data pipeline: ingest + gate + features time and peak memory by size.

Runs each case in a fresh subprocess (peak memory is that process's VmHWM; ru_maxrss would
carry over the parent's high-water mark across exec) on:
- the real BTC/USD hourly file (~20k bars, ../shared/data/coinbase_btcusd_1h.csv),
- 100k and 1M synthetic bars (the sample generator, written to Parquet first),
and, as the anchor in the same run, a plain research script (pandas: read, Garman-Klass,
a few rolling features) on the same inputs. Prints seconds per stage, microseconds per bar
(flat when cost grows linearly) and the ratio to the anchor.

    uv run python benchmarks/pipeline.py [--sizes 100000 1000000] [--skip-btc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"

CASE = r"""
import json, sys, time
import pandas as pd
from volcast.config import Params, ProfileParams
from volcast.pipeline import stages
from volcast.sources.csv import CsvSource
from volcast.storage import Storage

path, data_dir = sys.argv[1], sys.argv[2]
params = Params(profile=ProfileParams(enabled=False))
storage = Storage(data_dir)
t0 = time.perf_counter()
stages.ingest(storage=storage, source=CsvSource(path=__import__("pathlib").Path(path)),
              symbol="BENCH/USD", interval="1h")
t1 = time.perf_counter()
result = stages.validate(storage=storage, symbol="BENCH/USD", interval="1h", params=params)
t2 = time.perf_counter()
feats = stages.features(storage=storage, symbol="BENCH/USD", interval="1h", params=params)
t3 = time.perf_counter()
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"bars": result.rows, "features": feats.n_features, "ingest": t1 - t0,
                  "gate": t2 - t1, "features_s": t3 - t2, "total": t3 - t0, "peak": peak}))
"""

ANCHOR = r"""
import json, sys, time
import numpy as np, pandas as pd
path = sys.argv[1]
t0 = time.perf_counter()
if path.endswith(".parquet"):
    df = pd.read_parquet(path)
    ts = pd.to_datetime(df["timestamp"], utc=True)
else:
    df = pd.read_csv(path, skiprows=1)
    ts = pd.to_datetime(df["date"], format="%Y-%m-%d %I-%p", utc=True)
df = df.assign(timestamp=ts).sort_values("timestamp").reset_index(drop=True)
o, h, l, c = (np.log(df[k].to_numpy(float)) for k in ("open", "high", "low", "close"))
gk = np.maximum(0.5 * (h - l) ** 2 - (2 * np.log(2) - 1) * (c - o) ** 2, 1e-10)
out = pd.DataFrame({"log_rv": np.log(gk), "ret": np.r_[np.nan, np.diff(c)]})
for w in (4, 8, 24, 168):
    r = out["log_rv"].rolling(w)
    out[f"m{w}"], out[f"s{w}"] = r.mean(), r.std()
for k in range(1, 25):
    out[f"lag{k}"] = out["log_rv"].shift(k)
out["target"] = np.exp(out["log_rv"]).shift(-1)
t1 = time.perf_counter()
print(json.dumps({"bars": len(out), "total": t1 - t0,
                  "peak": next(int(l.split()[1]) * 1024 for l in open("/proc/self/status")
                              if l.startswith("VmHWM"))}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "YDATA_PROFILING_NO_ANALYTICS": "True"}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark case failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _synthetic(n: int, directory: Path) -> Path:
    from volcast.sources.sample import SampleSource

    bars = SampleSource(n_bars=n, seed=1, start="2000-01-03T00:00:00Z", regime_shift_at=None).fetch(
        symbol="BENCH/USD", interval="1h"
    )
    path = directory / f"synthetic_{n}.parquet"
    bars.to_parquet(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--skip-btc", action="store_true")
    args = parser.parse_args()
    cases: list[tuple[str, Path]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if not args.skip_btc and BTC.exists():
            cases.append(("BTC/USD 1h (real)", BTC))
        for n in args.sizes:
            print(f"generating {n:,} synthetic bars ...", file=sys.stderr)
            cases.append((f"synthetic {n:,}", _synthetic(n, tmpdir)))
        header = (
            f"{'case':<22}{'bars':>10}{'ingest s':>10}{'gate s':>9}{'feat s':>9}{'total s':>9}"
            f"{'us/bar':>8}{'peak MiB':>10}{'anchor s':>10}{'ratio':>7}{'anchor MiB':>11}"
        )
        print(header)
        print("-" * len(header))
        for label, path in cases:
            data_dir = tmpdir / f"data_{abs(hash(label))}"
            res = _run(CASE, str(path), str(data_dir))
            anchor = _run(ANCHOR, str(path))
            print(
                f"{label:<22}{int(res['bars']):>10,}{res['ingest']:>10.2f}{res['gate']:>9.2f}"
                f"{res['features_s']:>9.2f}{res['total']:>9.2f}"
                f"{1e6 * res['total'] / res['bars']:>8.1f}{res['peak'] / 2**20:>10.0f}"
                f"{anchor['total']:>10.2f}{res['total'] / anchor['total']:>7.1f}"
                f"{anchor['peak'] / 2**20:>11.0f}"
            )
    print(
        "\nus/bar flat across sizes = linear cost; ratio = volcast pipeline time / plain pandas "
        "script (which skips the gate, raw archive, atomic writes and most features)."
    )


if __name__ == "__main__":
    main()
