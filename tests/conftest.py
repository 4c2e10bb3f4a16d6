"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from volcast.config import get_settings


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data directory and no provider keys from the developer's shell."""
    monkeypatch.setenv("VOLCAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for key in (
        "VOLCAST_TWELVEDATA_API_KEY",
        "VOLCAST_ALPHAVANTAGE_API_KEY",
        "VOLCAST_OANDA_API_KEY",
        "VOLCAST_CRYPTOCOMPARE_API_KEY",
        "VOLCAST_NEWS_API_KEY",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The test's data directory (VOLCAST_DATA_DIR)."""
    return tmp_path / "data"
