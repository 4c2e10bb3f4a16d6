"""scripts/export_sp500.py: the bundled S&P 500 bars as a CSV the CSV source and the gate accept."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500

from tests.helpers import REPO_ROOT
from volcast.config import QualityParams
from volcast.quality import run_checks
from volcast.schemas import BAR_COLUMNS, TIMESTAMP
from volcast.sources.csv import CsvSource


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """The script, imported from its file (scripts/ is not a package)."""
    path = REPO_ROOT / "scripts" / "export_sp500.py"
    spec = importlib.util.spec_from_file_location("export_sp500", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source_frame() -> pd.DataFrame:
    """arch's own copy of the data, the reference."""
    frame: pd.DataFrame = sp500.load()
    return frame


def test_csv_has_the_contract_columns_and_every_row(
    script: ModuleType, source_frame: pd.DataFrame, tmp_path: Path
) -> None:
    written = script.export_sp500(tmp_path / "out" / "sp500.csv")

    text = written.read_text()
    assert text.splitlines()[0] == ",".join(BAR_COLUMNS)
    frame = pd.read_csv(written)
    assert len(frame) == len(source_frame)
    first = source_frame.index[0].strftime("%Y-%m-%dT00:00:00Z")
    assert frame[TIMESTAMP].iloc[0] == first
    assert frame[TIMESTAMP].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    np.testing.assert_allclose(frame["close"], source_frame["Close"], rtol=1e-12)
    np.testing.assert_array_equal(frame["volume"], source_frame["Volume"])
    assert sorted(p.name for p in written.parent.iterdir()) == ["sp500.csv"]  # no temp file left


def test_csv_source_reads_it_back_and_the_gate_passes_it(
    script: ModuleType, source_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = script.export_sp500(tmp_path / "sp500.csv")

    bars = CsvSource(path=path).fetch(symbol="SPX", interval="1d")

    assert list(bars.columns) == list(BAR_COLUMNS)
    expected = pd.DatetimeIndex(source_frame.index).tz_localize("UTC")
    pd.testing.assert_index_equal(pd.DatetimeIndex(bars[TIMESTAMP]), expected, check_names=False)
    for ours, theirs in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")):
        np.testing.assert_allclose(bars[ours], source_frame[theirs], rtol=1e-12)
    _, report = run_checks(
        bars, symbol="SPX", interval="1d", source="csv", params=QualityParams(), live=False
    )
    assert report.passed, report.failed


def test_rewrite_replaces_the_file_and_main_reports_the_rows(
    script: ModuleType,
    source_frame: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "sp500.csv"
    path.write_text("stale,content\n")

    assert script.main([str(path)]) == 0

    assert pd.read_csv(path).shape == (len(source_frame), len(BAR_COLUMNS))
    assert f"({len(source_frame)} daily bars)" in capsys.readouterr().out
