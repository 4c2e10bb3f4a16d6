"""The live loop on real hourly bars: alarms, delay to retrain and promotion, cost per bar.

Drives the real ``volcast`` CLI in subprocesses against a real ``mlflow server`` (SQLite
backend, proxied artefacts, started here on a free loopback port) and a data directory, all
under one temporary directory, on the real BTC/USD hourly bars
(``/work/shared/data/coinbase_btcusd_1h.csv``). Parameters: ``params.yaml``'s defaults with
the profile report off.

1. ``volcast pipeline`` on the first ``history`` bars (the champion and its backtest).
2. ``volcast stream --replay --speed 0`` over the next ``warm`` unchanged bars; the data
   directory and the registry aliases are then kept as a snapshot.
3. (a) the replay goes on over unchanged bars up to ``unchanged`` bars after the history:
   drift / decay events, retrains and promotions per 1,000 bars.
4. (b) from the snapshot, for each scale: a replay of ``after`` bars whose log returns and
   log ranges are multiplied by the scale from the shift bar on (``regime.scale_returns``;
   x2 is variance x4). The delay in bars from the shift to the first drift, the first decay,
   the first ``retrain_started`` and the first ``promoted`` event, read from
   ``monitoring/btcusd/1h/events.jsonl`` (an event's ``time`` is its bar). Delay 1 means
   the event came on the first shifted bar.
5. (c) cost per bar: each replay's wall time from its "replaying" line to its report line,
   minus the retrains (wall time from each ``retrain_started`` line to its ``promoted`` /
   ``rejected`` line, stamped as the lines arrive), over the bars processed. Retrains block
   the loop, so their durations are reported too.

The events before the shift are shared by every (b) run and printed once: a retrain shortly
before the shift keeps the trigger in its cooldown (``monitoring.cooldown_bars``) after it.

    uv run python benchmarks/loop.py [--quick] [--keep] [--start ROW] [--data btc|eurusd]

``--data eurusd`` runs the same on the ~5,000 real EUR/USD hourly bars of the
``backtesting`` package (a dev dependency), from row ``--start`` (0).

Measured 2026-12-02 afternoon with the OOD line from history and the one-day re-arm of
events (four runs at once on a loaded machine; docs/monitoring.md has the before/after):

- ``--start 7000`` (BTC, champion on Apr-Aug 2018): (a) 3.33 alarms per 1,000 unchanged
  bars (drift 1.67, decay 1.67; goal <= 1), 3 retrains, 2 promoted; (b) x3: drift +20, new
  champion +22 (goal <= 24); x2: drift +161, new champion +163 (goal <= 48); (c) 563 ms
  per bar, retrains 16-20 s.
- ``--start 13000`` (BTC, champion on Dec 2018-Apr 2019): (a) 3.33 alarms per 1,000
  (drift 0.83, decay 2.50; 4.17 before the re-arm), 4 retrains, all promoted; (b) x2: drift
  +22, x3: drift +18, new champion 2 bars later; (c) 213 ms per bar (alone on the machine).
- ``--data eurusd`` (champion on Apr-Oct 2017): (a) 0.83 alarms per 1,000 (one PSI drift),
  1 retrain, promoted; (b) x2: drift +15, decay +29, new champion +31; x3: decay and drift
  +9, new champion +11; (c) 502 ms per bar.

Run again at commit f733d35 (2026-12-02 evening, one run at a time, nothing else running):
every event and delay as above; (c) 113 ms (EUR/USD), 94 ms and 105 ms (BTC) per bar,
retrains 2.9-4.2 s (issue 9's faster training), 213-251 s wall per run.

With ``--keep``, the unchanged replay's events (which detector raised each alarm, its
statistic and line) are kept as ``events_unchanged.jsonl`` in the kept directory.

docs/monitoring.md has these and the earlier runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import yaml
from regime import scale_returns

from volcast.config import Params
from volcast.series import Series
from volcast.sources.csv import CsvSource

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
SERIES = Series("BTC/USD", "1h")
DATASETS = {"btc": SERIES, "eurusd": Series("EUR/USD", "1h")}
SERVER_TIMEOUT = 600.0  # a loaded 2-core machine takes minutes to start mlflow server
RETRAIN_END = ("promoted", "rejected")
EVENT_LINE = re.compile(r"^\S+T\S+\s+(?P<event>[a-z_]+)\b(?P<rest>.*)$")
REPORT_LINE = re.compile(
    r"(?P<bars>\d+) bars processed, (?P<rejected>\d+) rejected, (?P<errors>\d+) source errors, "
    r"(?P<retrains>\d+) retrains, (?P<promotions>\d+) promotions"
)


@dataclass(frozen=True)
class Plan:
    """How many bars each part replays."""

    history: int  # bars `volcast pipeline` trains on
    warm: int  # unchanged bars replayed before the shift (shared by (a) and every (b) run)
    after: int  # bars replayed from the shift on
    unchanged: int  # unchanged bars replayed in (a), the warm ones included
    scales: tuple[float, ...] = (2.0, 3.0)


FULL = Plan(history=3000, warm=200, after=300, unchanged=1200)
QUICK = Plan(history=2500, warm=40, after=60, unchanged=150, scales=(3.0,))


@dataclass
class Replay:
    """One ``volcast stream --replay`` process, timed from its output lines."""

    bars: int = 0
    retrains: int = 0
    promotions: int = 0
    startup: float = 0.0  # process start to its "replaying" line (imports, registry, catch-up)
    wall: float = 0.0  # "replaying" line to the report line
    retrain_walls: list[float] = field(default_factory=list)

    @property
    def loop_wall(self) -> float:
        return self.wall - sum(self.retrain_walls)


@dataclass
class World:
    """The temporary directory: params, bar files, data directory, MLflow server."""

    root: Path
    url: str = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def events_path(self) -> Path:
        return self.data / SERIES.layout.monitoring_dir / "events.jsonl"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLCAST_", "MLFLOW_"))}
        env.update(
            VOLCAST_DATA_DIR=str(self.data),
            MLFLOW_TRACKING_URI=self.url,
            MLFLOW_DISABLE_TELEMETRY="true",
            PYTHONUNBUFFERED="1",  # event lines arrive as they are printed: their wall stamps
            COLUMNS="4000",  # rich does not wrap an event line
        )
        return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    """A real ``mlflow server`` on loopback (SQLite, proxied artefacts); yields its URL."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    url = f"http://127.0.0.1:{port}"
    with (root / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
        try:
            deadline = time.monotonic() + SERVER_TIMEOUT
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"mlflow server exited ({process.returncode})")
                try:
                    if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server not healthy after {SERVER_TIMEOUT:.0f} s")
                time.sleep(0.5)
            yield url
        finally:
            if process.poll() is None:  # the server's workers share its process group
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def volcast_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "volcast", *args]


def source_args(path: Path) -> list[str]:
    return ["--source", "csv", "--path", str(path), "--symbol", SERIES.symbol,
            "--interval", SERIES.interval]  # fmt: skip


def pipeline(world: World, path: Path) -> float:
    """``volcast pipeline`` on ``path``; its wall time."""
    started = time.perf_counter()
    run = subprocess.run(
        volcast_args("pipeline", *source_args(path)),
        cwd=world.root, env=world.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"volcast pipeline failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    return time.perf_counter() - started


def replay(world: World, path: Path) -> Replay:
    """``volcast stream --replay --speed 0`` over ``path``, timed line by line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        volcast_args("stream", "--replay", "--speed", "0", *source_args(path)),
        cwd=world.root, env=world.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    result = Replay()
    lines: list[str] = []
    t_replaying: float | None = None
    retrain_from: float | None = None
    for line in process.stdout:
        now = time.perf_counter()
        lines.append(line)
        if t_replaying is None and line.startswith("replaying "):
            t_replaying = now
            result.startup = now - started
        elif match := EVENT_LINE.match(line):
            event = match["event"]
            if event == "retrain_started":
                retrain_from = now
            elif retrain_from is not None and (
                event in RETRAIN_END or (event == "retrain_done" and "ok=False" in line)
            ):
                result.retrain_walls.append(now - retrain_from)
                retrain_from = None
        elif (report := REPORT_LINE.search(line)) and t_replaying is not None:
            result.wall = now - t_replaying
            result.bars = int(report["bars"])
            result.retrains = int(report["retrains"])
            result.promotions = int(report["promotions"])
    if process.wait() != 0 or t_replaying is None or result.bars == 0:
        tail = "".join(lines[-40:])
        raise RuntimeError(f"volcast stream failed ({process.returncode}):\n{tail}")
    return result


def read_events(world: World) -> list[dict[str, object]]:
    if not world.events_path.exists():
        return []
    lines = world.events_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def registry_aliases(url: str) -> dict[str, str]:
    from mlflow import MlflowClient

    model = MlflowClient(tracking_uri=url).get_registered_model(SERIES.model_name)
    return {str(k): str(v) for k, v in model.aliases.items()}


def restore(world: World, snapshot: Path, aliases: dict[str, str]) -> None:
    """The data directory and the registry aliases as they were at the snapshot."""
    from mlflow import MlflowClient

    shutil.rmtree(world.data)
    shutil.copytree(snapshot, world.data)
    client = MlflowClient(tracking_uri=world.url)
    for alias, version in aliases.items():
        client.set_registered_model_alias(SERIES.model_name, alias, version)


def load_bars() -> pd.DataFrame:
    if SERIES.symbol == "EUR/USD":  # the backtesting package's real hourly bars
        from level import eurusd

        frame = eurusd()
        if frame is None:
            raise SystemExit("--data eurusd needs the `backtesting` package (dev dependency)")
        return frame
    bars = CsvSource(path=BTC).fetch(symbol=SERIES.symbol, interval=SERIES.interval)
    return bars.dropna(subset=["open", "high", "low", "close"]).reset_index(drop=True)


def write_bars(bars: pd.DataFrame, path: Path) -> Path:
    out = bars[["timestamp", "open", "high", "low", "close", "volume"]].copy()
    out["timestamp"] = pd.DatetimeIndex(out["timestamp"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False, float_format="%.10g")
    return path


# ----- figures ------------------------------------------------------------------------------


def positions(events: list[dict[str, object]], stamps: pd.DatetimeIndex) -> list[tuple[int, str]]:
    """(bar row, event) of each event, in file order."""
    out = []
    for event in events:
        row = int(stamps.searchsorted(pd.Timestamp(str(event["time"]))))
        out.append((row, str(event["event"])))
    return out


def first_after(rows: list[tuple[int, str]], name: str, shift: int, limit: int) -> str:
    """Delay in bars (1: on the first shifted bar) to the first ``name`` event at/after it."""
    for row, event in rows:
        if event == name and shift <= row < shift + limit:
            return str(row - shift + 1)
    return f"none in {limit}"


def count(rows: list[tuple[int, str]], name: str, lo: int, hi: int) -> int:
    return sum(1 for row, event in rows if event == name and lo <= row < hi)


def day(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%d %H:%M")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (a few minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--start", type=int, default=0, help="first row of the file used")
    parser.add_argument("--data", choices=sorted(DATASETS), default="btc", help="which bars")
    args = parser.parse_args(argv)
    global SERIES
    SERIES = DATASETS[args.data]
    run(QUICK if args.quick else FULL, keep=args.keep, start=args.start)


def run(plan: Plan, *, keep: bool = False, start: int = 0) -> None:
    """The loop benchmark on the file's bars from row ``start`` on (bars numbered from it)."""
    started = time.perf_counter()
    bars = load_bars().iloc[start:].reset_index(drop=True)
    stamps = pd.DatetimeIndex(bars["timestamp"])
    shift = plan.history + plan.warm
    end_a = plan.history + plan.unchanged
    end_b = shift + plan.after
    params = Params()
    cooldown = params.monitoring.cooldown_bars
    root = Path(tempfile.mkdtemp(prefix="volcast-loopbench-"))
    world = World(root)
    try:
        dumped = params.model_dump(mode="json", exclude={"extra"})
        dumped["profile"]["enabled"] = False
        (root / "params.yaml").write_text(yaml.safe_dump(dumped))
        history = write_bars(bars.iloc[: plan.history], root / "history.csv")
        warm = write_bars(bars.iloc[:shift], root / "warm.csv")
        unchanged = write_bars(bars.iloc[:end_a], root / "unchanged.csv")
        shifted = {
            s: write_bars(scale_returns(bars.iloc[:end_b], shift, s), root / f"shift_x{s:g}.csv")
            for s in plan.scales
        }
        with mlflow_server(root / "mlflow") as url:
            world.url = url
            server_s = time.perf_counter() - started
            pipeline_s = pipeline(world, history)
            last = plan.history - 1
            print(
                f"mlflow server up in {server_s:.0f} s; volcast pipeline on bars 0..{last}"
                f" ({day(stamps[0])} .. {day(stamps[last])}) in {pipeline_s:.0f} s",
                flush=True,
            )
            replays = {"warm": replay(world, warm)}
            warm_rows = positions(read_events(world), stamps)
            snapshot = root / "snapshot"
            shutil.copytree(world.data, snapshot)
            aliases = registry_aliases(url)
            replays["a"] = replay(world, unchanged)
            a_rows = positions(read_events(world), stamps)
            if world.events_path.exists():  # kept with --keep: which detector raised each alarm
                shutil.copy(world.events_path, root / "events_unchanged.jsonl")
            print(f"(a) done in {time.perf_counter() - started:.0f} s", flush=True)
            b_rows: dict[float, list[tuple[int, str]]] = {}
            for s in plan.scales:
                restore(world, snapshot, aliases)
                replays[f"x{s:g}"] = replay(world, shifted[s])
                b_rows[s] = positions(read_events(world), stamps)
                print(f"(b) x{s:g} done in {time.perf_counter() - started:.0f} s", flush=True)
        report(plan, stamps, replays, warm_rows, a_rows, b_rows, cooldown, start)
        print(f"loop benchmark: {time.perf_counter() - started:.0f} s wall in all")
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def report(
    plan: Plan,
    stamps: pd.DatetimeIndex,
    replays: dict[str, Replay],
    warm_rows: list[tuple[int, str]],
    a_rows: list[tuple[int, str]],
    b_rows: dict[float, list[tuple[int, str]]],
    cooldown: int,
    start: int,
) -> None:
    h, shift = plan.history, plan.history + plan.warm
    end_a = h + plan.unchanged
    print()
    print(
        f"== loop level: volcast stream --replay --speed 0, {SERIES}, champion trained on "
        f"bars 0..{h - 1} ({day(stamps[0])} .. {day(stamps[h - 1])}; bar 0 is row {start} "
        f"of the file)"
    )
    n = plan.unchanged
    per_k = 1000 / n
    names = ("drift", "decay", "retrain_started", "promoted", "rejected")
    counts = {name: count(a_rows, name, h, end_a) for name in names}
    print(
        f"(a) unchanged bars {h}..{end_a - 1} ({day(stamps[h])} .. {day(stamps[end_a - 1])}), "
        f"{n} bars:"
    )
    print(f"    {'event':<16} {'count':>5} {'per 1,000 bars':>15}   bars after the start")
    for name in names:
        at = [str(row - h + 1) for row, event in a_rows if event == name and h <= row < end_a]
        shown = ", ".join(at[:12]) + (" ..." if len(at) > 12 else "")
        print(f"    {name:<16} {counts[name]:>5} {counts[name] * per_k:>15.2f}   {shown}")
    alarms = counts["drift"] + counts["decay"]
    print(f"    alarms (drift + decay) per 1,000 unchanged bars: {alarms * per_k:.2f} (goal <= 1)")

    print(
        f"(b) shift at bar {shift} ({day(stamps[shift])}), {plan.warm} unchanged bars after the "
        f"start; {plan.after} bars replayed from the shift on"
    )
    before = [(row - shift, event) for row, event in warm_rows if h <= row < shift]
    shown = ", ".join(f"{event} {offset:+d}" for offset, event in before) or "none"
    print(f"    events before the shift (bar offset from it, shared by every run): {shown}")
    last_retrain = max((o for o, e in before if e == "retrain_started"), default=None)
    if last_retrain is not None and last_retrain + cooldown > 0:
        print(
            f"    -> the trigger's cooldown ({cooldown} bars) from the retrain at "
            f"{last_retrain:+d} keeps it quiet until about bar +{last_retrain + cooldown}"
        )
    header = ("shift", "drift", "decay", "retrain_started", "promoted", "retrains", "promotions")
    widths = (26, 10, 10, 16, 10, 9, 11)
    print("    " + " ".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in
                            enumerate(zip(header, widths, strict=True))))  # fmt: skip
    for s, rows in b_rows.items():
        cells = [f"returns x{s:g} (variance x{s * s:g})"]
        cells += [first_after(rows, name, shift, plan.after) for name in header[1:5]]
        cells += [str(count(rows, "retrain_started", shift, shift + plan.after))]
        cells += [str(count(rows, "promoted", shift, shift + plan.after))]
        print("    " + " ".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in
                                enumerate(zip(cells, widths, strict=True))))  # fmt: skip
    for s, rows in b_rows.items():
        after = [f"{e} +{row - shift + 1}" for row, e in rows if shift <= row < shift + plan.after]
        print(f"    x{s:g}, every event from the shift on: {', '.join(after) or 'none'}")
    print("    delay = shifted bars seen when the event came (1: on the first shifted bar)")
    print("    goal: first drift/decay within 24 bars for x3, within 48 for x2")

    print("(c) cost per bar (wall, retrains excluded; a retrain blocks the loop while it runs)")
    print(
        f"    {'replay':<8} {'bars':>5} {'startup s':>9} {'wall s':>7} {'retrains':>8} "
        f"{'retrain s (max)':>15} {'ms / bar':>8}"
    )
    for name, r in replays.items():
        spent = f"{sum(r.retrain_walls):.1f} ({max(r.retrain_walls, default=0.0):.1f})"
        print(
            f"    {name:<8} {r.bars:>5} {r.startup:>9.1f} {r.wall:>7.1f} "
            f"{len(r.retrain_walls):>8} {spent:>15} {1000 * r.loop_wall / r.bars:>8.0f}"
        )
    total_bars = sum(r.bars for r in replays.values())
    loop_wall = sum(r.loop_wall for r in replays.values())
    retrains = [w for r in replays.values() for w in r.retrain_walls]
    per_bar = loop_wall / total_bars
    print(
        f"    all: {total_bars} bars, {1000 * per_bar:.0f} ms per bar without retrains "
        f"({60 / per_bar:.0f}x faster than 1-minute bars); {len(retrains)} retrains, "
        f"median {np.median(retrains) if retrains else 0:.1f} s, "
        f"max {max(retrains, default=0):.1f} s"
    )


if __name__ == "__main__":
    main()
