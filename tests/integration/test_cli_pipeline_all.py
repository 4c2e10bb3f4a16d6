"""``volcast pipeline --all``: every series of ``instruments:`` in turn, failures reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import BTC_CSV, require_file
from volcast.cli import app
from volcast.config import load_params
from volcast.errors import ConfigError

pytestmark = pytest.mark.integration

runner = CliRunner()

# Small enough to train in seconds (as tests/integration/test_cli_logs.py).
_PARAMS = """\
sample:
  n_bars: 1400
profile:
  enabled: false
train:
  candidates: [persistence, ewma, har]
  min_train_bars: 400
  refit_every: 400
promotion:
  window_bars: 200
"""


def btc_slice(tmp_path: Path, rows: int = 1400) -> Path:
    """The first ``rows`` bars of the shared BTC file (CryptoDataDownload layout, newest first)."""
    lines = require_file(BTC_CSV).read_text().splitlines(keepends=True)
    path = tmp_path / "btc_slice.csv"
    path.write_text("".join(lines[: 2 + rows]))
    return path


def _registered(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "curated").rglob("*") if p.is_dir()}


def test_two_series_run_in_turn(tmp_path: Path, data_dir: Path) -> None:
    btc = btc_slice(tmp_path)
    (tmp_path / "params.yaml").write_text(
        _PARAMS
        + "instruments:\n"
        + "  - {symbol: EUR/USD, interval: 1h, source: sample}\n"
        + f"  - {{symbol: BTC/USD, interval: 1h, source: csv, path: {btc}}}\n"
    )
    result = runner.invoke(app, ["pipeline", "--all"])
    assert result.exit_code == 0, result.output
    assert "1/2" in result.output
    assert "2/2" in result.output
    assert "pipeline --all: 2 series" in result.output
    assert "failed" not in result.output
    curated = _registered(data_dir)
    assert {"eurusd", "btcusd"} <= curated, curated
    for name in ("volcast-eurusd-1h", "volcast-btcusd-1h"):
        assert name in result.output


def test_a_failing_series_does_not_stop_the_others(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        _PARAMS
        + "instruments:\n"
        + f"  - {{symbol: GONE/USD, interval: 1h, source: csv, path: {tmp_path / 'no.csv'}}}\n"
        + "  - {symbol: EUR/USD, interval: 1h, source: sample}\n"
    )
    result = runner.invoke(app, ["pipeline", "--all"])
    assert result.exit_code == 1, result.output
    assert "1 of 2 series failed" in result.output
    assert "GONE/USD 1h" in result.output
    assert "volcast-eurusd-1h" in result.output  # the second series still ran
    assert "eurusd" in _registered(data_dir)
    assert "goneusd" not in _registered(data_dir)


def test_all_takes_no_series_options(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(_PARAMS)
    result = runner.invoke(app, ["pipeline", "--all", "--symbol", "EUR/USD"])
    assert result.exit_code != 0
    assert "--all" in result.output


def test_instruments_are_validated(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("instruments:\n  - {symbol: EUR/USD}\n  - {symbol: eurusd}\n")
    with pytest.raises(ConfigError, match="listed twice"):
        load_params(params)
    params.write_text("instruments:\n  - {symbol: BTC/USD, source: csv}\n")
    with pytest.raises(ConfigError, match="needs a path"):
        load_params(params)
    params.write_text("instruments:\n  - {symbol: BTC/USD, interval: 7q}\n")
    with pytest.raises(ConfigError):
        load_params(params)
    params.write_text("data:\n  symbol: GBP/USD\n")
    (only,) = load_params(params).series_list()
    assert (only.symbol, only.interval, only.source) == ("GBP/USD", "1h", "sample")


def test_repo_params_default_to_the_sample_series() -> None:
    repo_params = Path(__file__).resolve().parents[2] / "params.yaml"
    (only,) = load_params(repo_params).series_list()
    assert (only.symbol, only.interval, only.source) == ("EUR/USD", "1h", "sample")
