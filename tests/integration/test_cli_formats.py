"""Vendor files through the CLI: a MetaTrader 5 export from ingest to a champion, and failures.

The MT5 files are written in MetaTrader 5's exact export layout (tab-separated, angle-bracket
header, separate date and time in broker server time, CRLF); nothing curated may change when
a file cannot be read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import BTC_CSV, REPO_ROOT, require_file
from volcast.cli import app
from volcast.sources.csv import CsvSource

runner = CliRunner()
FORMATS = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
MT5 = FORMATS / "mt5_eurusd_h1_nyclose.csv"
SERIES = ["--symbol", "EURUSD", "--interval", "1h"]


@pytest.fixture(autouse=True)
def _no_profile(tmp_path: Path) -> None:
    """Skip the slow profile report (tests run in tmp_path, so this is the default params)."""
    (tmp_path / "params.yaml").write_text("profile:\n  enabled: false\n")


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("curated", "datasets"):
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def mt5_export(n: int, *, start: str = "2025-03-03 00:00", seed: int = 5) -> str:
    """``n`` H1 bars of an FX week schedule as an MT5 export on a GMT+2/+3 (NY close) server."""
    server_hours = pd.date_range(start, periods=n * 2, freq="h")
    open_hours = server_hours[server_hours.dayofweek < 5][:n]  # Monday 00:00 .. Friday 23:00
    rng = np.random.default_rng(seed)
    close = 1.08 * np.exp(np.cumsum(rng.normal(0, 0.0012, n)))
    open_ = np.r_[1.08, close[:-1]]
    high = np.maximum(open_, close) + np.abs(rng.normal(0, 0.0006, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0, 0.0006, n))
    ticks = rng.integers(300, 6000, n)
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for i, t in enumerate(open_hours):
        lines.append(
            f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{open_[i]:.5f}\t{high[i]:.5f}\t{low[i]:.5f}\t"
            f"{close[i]:.5f}\t{ticks[i]}\t0\t{rng.integers(0, 12)}"
        )
    return "\r\n".join(lines) + "\r\n"


def test_mt5_export_ingests_and_validates_with_no_options(data_dir: Path) -> None:
    code, out = _invoke("ingest", "--source", "csv", "--path", str(MT5), *SERIES)
    assert code == 0, out
    assert "24 new bars" in out
    assert "MetaTrader 5 export" in out
    assert "UTC assumed" in out  # the file does not say its server's zone
    assert "tick volume" in out
    code, out = _invoke("validate", *SERIES)
    assert code == 0, out
    report = json.loads((data_dir / "reports" / "quality" / "eurusd_1h.json").read_text())
    assert report["passed"]
    assert any("UTC assumed" in note for note in report["notes"])
    meta = json.loads((data_dir / "curated" / "eurusd" / "1h" / "meta.json").read_text())
    assert meta["volume_kind"] == "tick"


def test_mt5_export_with_its_server_zone_gives_the_canonical_bars(data_dir: Path) -> None:
    code, out = _invoke(
        "ingest",
        "--source",
        "csv",
        "--path",
        str(MT5),
        "--source-timezone",
        "America/New_York+7",
        *SERIES,
    )
    assert code == 0, out
    assert "UTC+03:00 to UTC+02:00" in out
    assert _invoke("validate", *SERIES)[0] == 0
    curated = pd.read_parquet(data_dir / "curated" / "eurusd" / "1h" / "bars.parquet")
    expected = pd.read_csv(FORMATS / "eurusd_h1_canonical.csv")
    assert curated["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist() == (
        expected["timestamp"].tolist()
    )
    for column in ("open", "high", "low", "close", "volume"):
        assert curated[column].tolist() == expected[column].tolist()


def test_real_btc_bars_as_an_mt5_export_on_an_athens_clock(tmp_path: Path, data_dir: Path) -> None:
    """The BTC file's 20,111 bars (two autumn and two spring changes) as an EET/EEST server's
    MT5 export, ingested with --source-timezone: the same bars, gated and curated."""
    btc = CsvSource(path=require_file(BTC_CSV)).fetch(symbol="BTC/USD", interval="1h")
    wall = btc["timestamp"].dt.tz_convert("Europe/Athens").dt.tz_localize(None)
    body = (
        wall.dt.strftime("%Y.%m.%d\t%H:%M:%S")
        + "\t"
        + btc[["open", "high", "low", "close"]].map(repr).agg("\t".join, axis=1)
        + "\t"
        + btc["volume"].round().astype("int64").astype(str)
        + "\t0\t0"
    )
    path = tmp_path / "BTCUSD_H1.csv"
    head = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
    path.write_bytes(("\r\n".join([head, *body]) + "\r\n").encode())
    series = ["--symbol", "BTC/USD", "--interval", "1h"]
    code, out = _invoke(
        "ingest", "--path", str(path), "--source-timezone", "Europe/Athens", *series
    )
    assert code == 0, out
    assert "20111 new bars" in out
    assert "UTC+03:00 to UTC+02:00 at the bar of 2018-10-28 01:00 UTC" in " ".join(out.split())
    staged = pd.read_parquet(data_dir / "staging" / "btcusd" / "1h" / "bars.parquet")
    expected = btc.assign(volume=btc["volume"].round())
    pd.testing.assert_frame_equal(staged[list(expected.columns)], expected, check_dtype=False)
    code, out = _invoke("validate", *series)
    assert code == 0, out


def test_timestamp_column_with_two_names(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "split.csv"
    path.write_text(
        "Day;Clock;Open;High;Low;Close\n"
        + "".join(f"23/06/2025;{h:02d}:00;1.1;1.2;1.0;1.15\n" for h in range(5))
    )
    code, out = _invoke(
        "ingest",
        "--path",
        str(path),
        "--timestamp-column",
        "Day,Clock",
        "--timestamp-format",
        "%d/%m/%Y %H:%M",
        *SERIES,
    )
    assert code == 0, out
    staged = pd.read_parquet(data_dir / "staging" / "eurusd" / "1h" / "bars.parquet")
    assert staged["timestamp"].iloc[-1] == pd.Timestamp("2025-06-23 04:00", tz="UTC")


@pytest.fixture
def curated(tmp_path: Path, data_dir: Path) -> Path:
    """EURUSD H1 curated from the MT5 export; returns the data directory."""
    path = tmp_path / "base.csv"
    path.write_bytes(mt5_export(300).encode())
    for command in (["ingest", "--path", str(path), *SERIES], ["validate", *SERIES]):
        code, out = _invoke(*command)
        assert code == 0, out
    return data_dir


@pytest.mark.parametrize(
    ("content", "options", "exit_code", "expected"),
    [
        ("20250623 000000,1.1,1.2,1.0,1.1,0\n", [], 3, "closest profile histdata"),
        ("2025.13.45,00:00,1.1,1.2,1.0,1.1,5\n", [], 3, "closest profile metatrader4"),
        ("MT5", ["--file-format", "histdata"], 3, "not in the histdata layout"),
        ("MT5", ["--file-format", "ninjatrader"], 2, "unknown --file-format"),
        ("MT5", ["--source-timezone", "Mars/Olympus"], 2, "is not a time zone"),
        (
            "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
            "2026.03.29\t03:30:00\t1.1\t1.2\t1.0\t1.1\t5\t0\t1\n",
            ["--source-timezone", "Europe/Athens"],
            3,
            "does not exist",
        ),
    ],
    ids=["unknown", "bad-date", "wrong-format", "no-such-format", "bad-zone", "dst-gap"],
)
def test_unreadable_files_fail_and_change_nothing(
    curated: Path, tmp_path: Path, content: str, options: list[str], exit_code: int, expected: str
) -> None:
    before = _digest(curated)
    path = tmp_path / "bad.csv"
    if content == "MT5":
        path.write_bytes(MT5.read_bytes())
    else:
        path.write_text(content)
    code, out = _invoke("ingest", "--source", "csv", "--path", str(path), *options, *SERIES)
    if code == 0:
        code, out = _invoke("validate", *SERIES)
    assert code == exit_code, out
    assert expected in " ".join(out.split())
    assert _digest(curated) == before


def _pipeline_params(tmp_path: Path) -> Path:
    params: dict[str, Any] = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["profile"]["enabled"] = False
    params["train"].update({"min_train_bars": 800, "refit_every": 400})
    params["train"]["lightgbm"]["n_estimators"] = 60
    params["promotion"]["window_bars"] = 300
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.integration
@pytest.mark.slow
def test_pipeline_runs_end_to_end_on_a_metatrader_h1_export(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "EURUSD_H1.csv"
    path.write_bytes(mt5_export(2400).encode())
    config = str(_pipeline_params(tmp_path))
    # As the acceptance has it: the export and nothing else.
    code, out = _invoke(
        "pipeline", "--source", "csv", "--path", str(path), "--config", config, *SERIES
    )
    assert code == 0, out
    assert "MetaTrader 5 export" in out
    assert "UTC assumed" in out
    assert "promoted" in out
    curated = pd.read_parquet(data_dir / "curated" / "eurusd" / "1h" / "bars.parquet")
    assert len(curated) == 2400
    assert curated["timestamp"].iloc[0] == pd.Timestamp("2025-03-03 00:00", tz="UTC")
