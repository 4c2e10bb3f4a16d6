"""The data pipeline end to end through the CLI: acceptance commands and corrupted inputs."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.helpers import BTC_CSV, require_file
from volcast.cli import app
from volcast.pipeline import stages
from volcast.sources.base import RawSink, discard_raw
from volcast.storage import Storage

runner = CliRunner()
SYMBOL = ["--symbol", "TEST/USD", "--interval", "1h"]


@pytest.fixture(autouse=True)
def _no_profile(tmp_path: Path) -> None:
    """Skip the (slow, separately tested) profile report: these tests are about the data.

    The tests run in ``tmp_path`` (see tests/conftest.py), so this is the default params.yaml.
    """
    (tmp_path / "params.yaml").write_text("profile:\n  enabled: false\n")


def _bars(n: int, *, seed: int = 3, start: str = "2024-03-04T00:00:00Z") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[100.0, close[:-1]]
    spread = np.abs(rng.normal(0, 0.002, n)) * close
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": open_.round(4),
            "high": (np.maximum(open_, close) + spread).round(4),
            "low": (np.minimum(open_, close) - spread).round(4),
            "close": close.round(4),
            "volume": rng.integers(10, 1000, n).astype(float),
        }
    )


def _digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under curated/ and datasets/ (what must stay byte-identical)."""
    out = {}
    for sub in ("curated", "datasets"):
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def curated(tmp_path: Path, data_dir: Path) -> tuple[Path, pd.DataFrame]:
    """700 bars of which the first 600 are ingested, gated and featurised."""
    frame = _bars(700)
    base = tmp_path / "base.csv"
    frame.iloc[:600].to_csv(base, index=False)
    for cmd in (
        ["ingest", "--source", "csv", "--path", str(base), *SYMBOL],
        ["validate", *SYMBOL],
        ["features", *SYMBOL],
    ):
        code, output = _invoke(*cmd)
        assert code == 0, output
    return data_dir, frame


def test_stage_by_stage_on_real_btc_file(data_dir: Path) -> None:
    path = require_file(BTC_CSV)
    btc = ["--symbol", "BTC/USD", "--interval", "1h"]
    code, out = _invoke("ingest", "--source", "csv", "--path", str(path), *btc)
    assert code == 0, out
    assert "raw" in out
    raw_files = list((data_dir / "raw" / "csv" / "btcusd" / "1h").glob("raw_*.csv"))
    assert len(raw_files) == 1
    assert raw_files[0].read_bytes() == path.read_bytes()  # untouched
    code, out = _invoke("validate", *btc)
    assert code == 0, out
    code, out = _invoke("features", *btc)
    assert code == 0, out

    dataset = pd.read_parquet(data_dir / "datasets" / "btcusd" / "1h" / "features.parquet")
    curated = pd.read_parquet(data_dir / "curated" / "btcusd" / "1h" / "bars.parquet")
    n_lines = sum(1 for _ in path.open()) - 2  # banner + header
    assert len(curated) == n_lines
    assert len(dataset) >= len(curated)  # one row per bar (isolated gaps may be filled)
    assert dataset["timestamp"].is_unique
    assert dataset["timestamp"].is_monotonic_increasing
    meta = pd.read_json(data_dir / "datasets" / "btcusd" / "1h" / "meta.json", typ="series")
    warmup = int(meta["warmup_bars"])
    features = list(meta["feature_names"])
    assert len(features) > 50
    assert not dataset[features].iloc[warmup:].isna().any().any()
    assert dataset["target"].iloc[warmup:-1].gt(0).all()
    assert not (data_dir / "reports" / "profile").exists()  # disabled by this module's params


def test_second_run_is_incremental(curated: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    data_dir, frame = curated
    before = _digest(data_dir)
    base = tmp_path / "base.csv"
    code, out = _invoke("ingest", "--source", "csv", "--path", str(base), *SYMBOL)
    assert code == 0, out
    assert "no new closed bars" in out
    assert _invoke("validate", *SYMBOL)[0] == 0
    assert _invoke("features", *SYMBOL)[0] == 0
    assert _digest(data_dir) == before  # same data twice changes nothing

    more = tmp_path / "more.csv"
    frame.to_csv(more, index=False)
    code, out = _invoke("ingest", "--source", "csv", "--path", str(more), *SYMBOL)
    assert code == 0, out
    assert "100 new bars" in out
    assert _invoke("validate", *SYMBOL)[0] == 0
    curated_bars = pd.read_parquet(data_dir / "curated" / "testusd" / "1h" / "bars.parquet")
    assert len(curated_bars) == 700


def _corrupt(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = frame.copy()
    new = out.index[600:]
    if kind == "null_ratio":
        out.loc[new[:10], "close"] = np.nan
    elif kind == "ohlc_consistency":
        out.loc[new[5], "high"] = out.loc[new[5], "low"] - 1.0
    elif kind == "duplicates":
        dup = out.loc[[new[10]]].copy()
        dup["close"] = dup["close"] + 1.0
        out = pd.concat([out.loc[: new[10]], dup, out.loc[new[11] :]], ignore_index=True)
    elif kind == "schema":
        out["close"] = out["close"].astype(object)
        out.loc[new[3], "close"] = "abc"
    elif kind == "positive_prices":
        out.loc[new[7], ["open", "low"]] = -1.0
    elif kind == "volume_non_negative":
        out.loc[new[9], "volume"] = -5.0
    elif kind == "required_columns":
        out = out.drop(columns=["high"])
    return out


@pytest.mark.parametrize(
    "kind",
    [
        "null_ratio",
        "ohlc_consistency",
        "duplicates",
        "schema",
        "positive_prices",
        "volume_non_negative",
        "required_columns",
    ],
)
def test_corrupted_input_fails_and_changes_nothing(
    kind: str, curated: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    data_dir, frame = curated
    before = _digest(data_dir)
    bad = tmp_path / f"{kind}.csv"
    _corrupt(frame, kind).to_csv(bad, index=False)
    code, out = _invoke("ingest", "--source", "csv", "--path", str(bad), *SYMBOL)
    if code == 0:
        code, out = _invoke("validate", *SYMBOL)
    assert code == 3, out  # README: 3 = quality gate failed
    assert kind in out
    assert _digest(data_dir) == before
    # the data still builds: the good curated bars and dataset are intact
    assert _invoke("features", *SYMBOL)[0] == 0
    assert _digest(data_dir) == before


def test_truncated_file_fails_and_changes_nothing(
    curated: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    data_dir, frame = curated
    before = _digest(data_dir)
    text = frame.to_csv(index=False)
    bad = tmp_path / "truncated.csv"
    bad.write_text(text[: len(text) - 25])  # cut mid-row
    code, out = _invoke("ingest", "--source", "csv", "--path", str(bad), *SYMBOL)
    if code == 0:
        code, out = _invoke("validate", *SYMBOL)
    assert code == 3, out  # a truncated file is a ParseError, a DataQualityError
    assert "parse" in out or "truncated" in out
    assert _digest(data_dir) == before


def test_nulls_in_the_increment_alone_fail_and_change_nothing(tmp_path: Path) -> None:
    """5% empty closes in a 600-bar increment on 5000 curated bars (0.54% of all) -> exit 3."""
    frame = _bars(5600)
    base = tmp_path / "base.csv"
    frame.iloc[:5000].to_csv(base, index=False)
    assert _invoke("ingest", "--source", "csv", "--path", str(base), *SYMBOL)[0] == 0
    assert _invoke("validate", *SYMBOL)[0] == 0
    data_dir = Path.cwd() / "data"
    before = _digest(data_dir)
    assert before  # curated bars and watermark exist
    bad = frame.copy()
    bad.loc[list(range(5000, 5600, 20)), "close"] = np.nan  # 30 of the 600 new bars
    path = tmp_path / "increment_nulls.csv"
    bad.to_csv(path, index=False)
    code, out = _invoke("ingest", "--source", "csv", "--path", str(path), *SYMBOL)
    assert code == 0, out
    assert "600 new bars" in out
    code, out = _invoke("validate", *SYMBOL)
    assert code == 3, out
    assert "null_ratio" in out
    assert "in the increment of 600 new rows" in out
    assert _digest(data_dir) == before


@dataclass
class _UnsortedSource:
    """A source that delivers bars in its own order (the CSV source sorts; providers may not)."""

    bars: pd.DataFrame
    name: str = "unsorted"
    live: bool = False

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        on_raw(self.bars.to_csv(index=False).encode(), "csv")
        return self.bars


def test_non_monotonic_increment_fails_and_changes_nothing(
    curated: tuple[Path, pd.DataFrame],
) -> None:
    data_dir, frame = curated
    before = _digest(data_dir)
    increment = frame.iloc[600:].reset_index(drop=True)
    order = list(range(len(increment)))
    order[20], order[21] = order[21], order[20]  # two new bars arrive swapped
    source = _UnsortedSource(increment.iloc[order].reset_index(drop=True))
    stages.ingest(storage=Storage(data_dir), source=source, symbol="TEST/USD", interval="1h")
    code, out = _invoke("validate", *SYMBOL)
    assert code == 3, out
    assert "monotonic" in out
    assert _digest(data_dir) == before


def test_module_entry_point_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "volcast", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("ingest", "validate", "features", "pipeline"):
        assert command in result.stdout


def test_unknown_source_and_bad_interval_are_config_errors() -> None:
    code, out = _invoke("ingest", "--source", "nope", *SYMBOL)
    assert code == 2
    assert "unknown source" in out
    code, out = _invoke("validate", "--symbol", "X", "--interval", "7parsecs")
    assert code == 2
    assert "interval" in out


def test_features_on_too_little_history_fail_clearly(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    _bars(100).to_csv(short, index=False)
    assert _invoke("ingest", "--source", "csv", "--path", str(short), *SYMBOL)[0] == 0
    assert _invoke("validate", *SYMBOL)[0] == 0
    code, out = _invoke("features", *SYMBOL)
    assert code == 6
    assert "warm-up" in out


def test_backtest_output_that_cannot_be_written_fails_before_running(tmp_path: Path) -> None:
    code, out = _invoke("backtest", *SYMBOL, "--output", str(tmp_path))
    assert code == 2
    assert "must be a file path" in out
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, out = _invoke("backtest", *SYMBOL, "--output", str(blocker / "x.csv"))
    assert code == 2
    assert "is a file" in out
