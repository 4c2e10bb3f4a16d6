"""Pipeline stages called directly: live-source freshness, the default sample run, idempotence."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from volcast.cli import app
from volcast.config import Params
from volcast.errors import DataQualityError
from volcast.pipeline import stages
from volcast.pipeline.profiling import BackgroundProfiles, ProfileJob
from volcast.sources.base import RawSink, discard_raw
from volcast.storage import Layout, Storage


@dataclass
class ReplayLiveSource:
    """A live source serving fixed bars (the HTTP clients have their own replay-server tests)."""

    bars: pd.DataFrame
    name: str = "replay"
    live: bool = True

    def fetch(
        self,
        *,
        symbol: str,
        interval: str,
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        on_raw(self.bars.to_json(orient="records").encode(), "json")
        out = self.bars if since is None else self.bars[self.bars["timestamp"] > since]
        return out.reset_index(drop=True)


def _bars(n: int, end: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[1.1, close[:-1]]
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(end=end, periods=n, freq="h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": np.nan,
        }
    )


def test_stale_live_data_fails_freshness_and_writes_nothing(data_dir: Path) -> None:
    storage = Storage(data_dir)
    now = pd.Timestamp("2026-11-23T12:00:00Z")
    fresh = ReplayLiveSource(_bars(100, end=now - pd.Timedelta(hours=1)))
    stages.ingest(storage=storage, source=fresh, symbol="EUR/USD", interval="1h", now=now)
    result = stages.validate(
        storage=storage, symbol="EUR/USD", interval="1h", params=Params(), now=now
    )
    assert result.rows == 100
    layout = Layout("EUR/USD", "1h")
    before = storage.read_bytes(layout.curated_bars), storage.read_bytes(layout.curated_meta)

    later = now + pd.Timedelta(days=2)  # the provider stopped delivering: nothing new for 2 days
    stages.ingest(storage=storage, source=fresh, symbol="EUR/USD", interval="1h", now=later)
    with pytest.raises(DataQualityError) as info:
        stages.validate(
            storage=storage, symbol="EUR/USD", interval="1h", params=Params(), now=later
        )
    assert info.value.failed_checks == ["freshness"]
    assert "freshness" in str(info.value)
    assert (
        storage.read_bytes(layout.curated_bars),
        storage.read_bytes(layout.curated_meta),
    ) == before
    report = storage.read_json(layout.quality_report)
    assert report["passed"] is False


def test_raw_payload_saved_with_collection_timestamp(data_dir: Path) -> None:
    storage = Storage(data_dir)
    now = pd.Timestamp("2026-11-23T12:34:56Z")
    source = ReplayLiveSource(_bars(50, end=now - pd.Timedelta(hours=1)))
    result = stages.ingest(storage=storage, source=source, symbol="EUR/USD", interval="1h", now=now)
    expected = data_dir / "raw" / "replay" / "eurusd" / "1h" / "raw_20261123_123456.json"
    assert result.raw_paths == [str(expected)]
    assert expected.read_bytes() == source.bars.to_json(orient="records").encode()


def test_default_pipeline_runs_on_sample_and_is_incremental(data_dir: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["pipeline"])
    assert first.exit_code == 0, first.output
    assert "synthetic" in first.output
    assert str(data_dir) in first.output
    dataset = data_dir / "datasets" / "eurusd" / "1h" / "features.parquet"
    stamp = dataset.stat().st_mtime_ns
    second = runner.invoke(app, ["pipeline"])
    assert second.exit_code == 0, second.output
    assert "no new closed bars" in second.output
    assert "unchanged" in second.output
    assert dataset.stat().st_mtime_ns == stamp
    meta = pd.read_json(data_dir / "datasets" / "eurusd" / "1h" / "meta.json", typ="series")
    assert bool(meta["synthetic"]) is True
    # the profile report, rendered in a second process during training, is written by the end
    report = (data_dir / "reports" / "profile" / "eurusd_1h.html").read_text()
    assert "volcast dataset EUR/USD 1h" in report
    assert "SYNTHETIC" in report.upper()
    # ... and before the training run gathered its files: the run logged this very report
    logged = [
        path
        for path in data_dir.rglob("eurusd_1h.html")
        if path.parent != data_dir / "reports" / "profile"
    ]
    assert logged, "the training run logged no profile report"
    assert all(path.read_text() == report for path in logged)


@dataclass(frozen=True)
class PidJob(ProfileJob):
    """Renders the id of the process it runs in."""

    def render(self) -> bytes:
        return str(os.getpid()).encode()


@dataclass(frozen=True)
class FailingJob(ProfileJob):
    def render(self) -> bytes:
        raise RuntimeError("ydata-profiling broke")


def test_background_profiles_render_elsewhere_and_write_at_the_end(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    background = BackgroundProfiles()
    frame = _bars(10, pd.Timestamp("2026-01-01", tz="UTC"))
    path = background.submit(storage, "reports/a.html", PidJob(frame, "a", 100, False))
    assert path == storage.url("reports/a.html")
    assert not (tmp_path / "reports" / "a.html").exists()  # written by finish, in this process
    background.finish()
    pid = int((tmp_path / "reports" / "a.html").read_text())
    assert pid != os.getpid()


def test_a_failed_background_render_raises_and_writes_nothing(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    background = BackgroundProfiles()
    frame = _bars(10, pd.Timestamp("2026-01-01", tz="UTC"))
    background.submit(storage, "reports/b.html", FailingJob(frame, "b", 100, False))
    with pytest.raises(RuntimeError, match="ydata-profiling broke"):
        background.finish()
    assert not (tmp_path / "reports" / "b.html").exists()
    background.finish()  # nothing pending any more: a no-op
