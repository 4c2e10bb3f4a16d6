"""scripts/export_backtesting.py: backtesting.py's real EUR/USD hours as a volcast CSV.

The FX file has weekend gaps (Friday 20:00 to Sunday 21:00); the CSV source, the gate,
cleaning and the feature builder must take them as they take any FX feed: the gaps stay
gaps (no invented flat weekend bars) and every feature after warm-up is finite.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.helpers import REPO_ROOT
from volcast.config import FeatureParams, QualityParams, TargetParams
from volcast.features import FeatureBuilder, build_dataset
from volcast.features.target import resolve_target
from volcast.quality import run_checks
from volcast.quality.cleaning import clean_bars
from volcast.schemas import BAR_COLUMNS, TIMESTAMP
from volcast.sources.csv import CsvSource

pytest.importorskip("backtesting")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """The script, imported from its file (scripts/ is not a package)."""
    path = REPO_ROOT / "scripts" / "export_backtesting.py"
    spec = importlib.util.spec_from_file_location("export_backtesting", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source_frame() -> pd.DataFrame:
    """backtesting's own copy of the data, the reference."""
    from backtesting.test import EURUSD

    frame: pd.DataFrame = EURUSD
    return frame


def test_csv_has_the_contract_columns_and_every_row(
    script: ModuleType, source_frame: pd.DataFrame, tmp_path: Path
) -> None:
    written = script.export_backtesting(tmp_path / "out" / "eurusd.csv")

    assert written.read_text().splitlines()[0] == ",".join(BAR_COLUMNS)
    frame = pd.read_csv(written)
    assert len(frame) == len(source_frame) == 5000
    assert frame[TIMESTAMP].iloc[0] == source_frame.index[0].strftime("%Y-%m-%dT%H:00:00Z")
    np.testing.assert_allclose(frame["close"], source_frame["Close"], rtol=1e-12)
    assert sorted(p.name for p in written.parent.iterdir()) == ["eurusd.csv"]


def test_the_gate_passes_it_and_weekend_gaps_stay_gaps(
    script: ModuleType, source_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = script.export_backtesting(tmp_path / "eurusd.csv")
    bars = CsvSource(path=path).fetch(symbol="EUR/USD", interval="1h")
    gated, report = run_checks(
        bars, symbol="EUR/USD", interval="1h", source="csv", params=QualityParams(), live=False
    )
    assert report.passed, report.failed

    clean = clean_bars(gated, interval="1h")

    # no bar invented: the only gaps are weekends and holidays of two days or more
    assert len(clean) == len(source_frame)
    steps = pd.DatetimeIndex(clean[TIMESTAMP]).to_series().diff().dropna()
    gaps = steps[steps > pd.Timedelta(hours=1)]
    assert len(gaps) == 42
    assert (gaps >= pd.Timedelta(days=2)).all()
    reopen = pd.DatetimeIndex(gaps.index)
    assert set(reopen.dayofweek) == {6, 0}  # Sunday, or Monday after Christmas and New Year
    # the market reopens at 21:00 UTC in (US) summer time and 22:00 UTC in winter: UTC stamps
    assert set(reopen.hour) == {21, 22}


def test_features_count_bars_across_the_weekend_and_are_complete(script: ModuleType) -> None:
    bars = clean_bars(script.backtesting_bars("eurusd"), interval="1h")
    features = FeatureParams()
    target = resolve_target(bars, TargetParams())

    data = build_dataset(bars, features=features, target=target, interval="1h")

    builder = FeatureBuilder(features=features, target=target, interval="1h")
    complete = data[builder.feature_names].iloc[builder.warmup_bars :]
    assert np.isfinite(complete.to_numpy()).all()
    # the first bar after a weekend lags the last bar before it by one bar, not by 49 hours
    stamps = pd.DatetimeIndex(data[TIMESTAMP])
    monday = int(np.flatnonzero(stamps.to_series().diff() > pd.Timedelta(days=2))[-1])
    assert data["log_rv_lag_1"].iloc[monday] == pytest.approx(data["log_rv"].iloc[monday - 1])
    assert data["target"].iloc[monday - 1] == pytest.approx(data["rv"].iloc[monday])
