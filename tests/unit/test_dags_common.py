"""dags/volcast_common.py without Airflow: the series of a run and the monitor's decision.

The module imports only the standard library and PyYAML, so it loads in volcast's venv; the
DAGs themselves are tested with Airflow in tests/integration/test_airflow.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO_ROOT
from volcast.schemas import interval_seconds, slugify


@pytest.fixture(scope="module")
def vc() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "volcast_common", REPO_ROOT / "dags" / "volcast_common.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(root: Path, state: dict, events: list[dict] | None = None) -> None:
    folder = root / "monitoring" / "eurusd" / "1h"
    folder.mkdir(parents=True, exist_ok=True)
    base = {"last_bar": "2024-03-21T06:00:00+00:00", "retrain_pending": False}
    (folder / "state.json").write_text(json.dumps({**base, **state}))
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events or []))


EURUSD = {"symbol": "EUR/USD", "interval": "1h"}


def test_slug_and_interval_match_volcast(vc: ModuleType) -> None:
    for symbol in ("EUR/USD", "btc-usd", "S&P 500", "XAU_USD"):
        assert vc.slug(symbol) == slugify(symbol)
    for interval in ("1min", "15min", "1h", "4h", "1d", "1w"):
        assert vc.interval_seconds(interval) == interval_seconds(interval)


def test_series_for_run(vc: ModuleType) -> None:
    configured = vc.instruments({"data": {"symbol": "GBP/USD"}})
    assert configured == [{"symbol": "GBP/USD", "interval": "1h", "source": "sample"}]
    assert vc.series_for_run({}, configured) == configured
    assert vc.series_for_run({"symbol": "X/Y", "path": "a.csv"}, configured) == [
        {"symbol": "X/Y", "interval": "1h", "path": "a.csv", "source": "csv"}
    ]
    assert vc.source_args({"source": "csv", "path": "a.csv", "skip_rows": 1}) == [
        "--source", "csv", "--path", "a.csv", "--skip-rows", "1"
    ]  # fmt: skip


def test_retrain_decision(vc: ModuleType, tmp_path: Path) -> None:
    def decide() -> tuple[bool, str]:
        return vc.retrain_decision(EURUSD, tmp_path, cooldown_bars=24)

    assert decide() == (False, "no monitoring state (no live loop for this series)")
    _write(tmp_path, {})
    assert decide()[0] is False
    _write(tmp_path, {"decay_detected": True, "level_detected": True})
    assert decide() == (True, "decay_detected, level_detected")
    _write(tmp_path, {"decay_detected": True, "retrain_pending": True})
    assert decide() == (False, "the live loop's own retrain is pending")
    started = {"time": "2024-03-20T06:00:00+00:00", "event": "retrain_started"}
    _write(tmp_path, {"drift_detected": True}, [started])  # 24 bars ago: cooldown over
    assert decide() == (True, "drift_detected")
    started = {"time": "2024-03-20T07:00:00+00:00", "event": "retrain_started"}
    _write(tmp_path, {"drift_detected": True}, [started])  # 23 bars ago
    assert decide() == (False, "cooldown: 23 of 24 bars since the last retrain")
    old = {"time": "2024-03-01T00:00:00+00:00", "event": "retrain_started"}
    asked = {"time": "2024-03-21T05:00:00+00:00", "event": "retrain_requested"}
    _write(tmp_path, {}, [old, asked])
    assert decide() == (True, "retrain_requested")
    vc.record_trigger(EURUSD, tmp_path, "run-1")  # this DAG's own trigger starts the cooldown
    assert decide() == (False, "cooldown: 0 of 24 bars since the last retrain")
