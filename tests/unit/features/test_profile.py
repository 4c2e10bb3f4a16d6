"""The ydata-profiling data profile report (the HTML page; the features stage stores it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.errors import VolcastError
from volcast.features.profile import (
    SYNTHETIC_LABEL,
    profile_html,
    profile_title,
    select_columns,
)


def _dataset(n: int = 300, *, lags: int = 0, extra: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "log_return": rng.standard_normal(n) * 1e-3,
            "log_rv": rng.standard_normal(n) - 12.0,
        }
    )
    for k in range(1, lags + 1):
        frame[f"log_rv_lag_{k}"] = frame["log_rv"].shift(k)
    for i in range(extra):
        frame[f"feature_{i}"] = rng.standard_normal(n)
    frame["target"] = rng.gamma(2.0, 1e-6, size=n)
    return frame


def test_report_is_html_with_title_and_columns() -> None:
    html = profile_html(_dataset(), title="EUR/USD 1h dataset", max_rows=200)
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "EUR/USD 1h dataset" in html
    for column in ("log_return", "log_rv", "target"):
        assert column in html
    assert SYNTHETIC_LABEL not in html
    assert "Last 200 of 300 rows" in html


def test_synthetic_dataset_is_labelled() -> None:
    dataset = _dataset(150)
    html = profile_html(dataset, title="sample 1h", max_rows=1000, synthetic=True)
    assert f"sample 1h [{SYNTHETIC_LABEL}]" in html
    assert "Last 150 of 150 rows" in html


def test_wide_dataset_is_cut_to_max_columns() -> None:
    dataset = _dataset(120, lags=5, extra=30)
    html = profile_html(dataset, title="wide", max_rows=100, max_columns=8)
    assert f"8 of {dataset.shape[1]} columns" in html
    assert "log_rv_lag_1" not in html
    assert "target" in html


def test_most_recent_rows_are_profiled() -> None:
    dataset = _dataset(400).sample(frac=1.0, random_state=0)  # shuffled rows
    html = profile_html(dataset, title="t", max_rows=100)
    # 400 hourly bars from 2024-01-01 00:00: the last 100 start at bar 300, 2024-01-13 12:00.
    assert "2024-01-13 12:00:00" in html
    assert "2024-01-17 15:00:00" in html
    assert "2024-01-01 00:00:00" not in html


def test_empty_dataset_is_rejected() -> None:
    with pytest.raises(VolcastError, match="empty dataset"):
        profile_html(_dataset().iloc[:0], title="t", max_rows=10)


class TestSelectColumns:
    def test_small_frames_keep_every_column_target_first(self) -> None:
        columns = ["timestamp", "a", "b", "target"]
        assert select_columns(columns, max_columns=10) == ["target", "timestamp", "a", "b"]

    def test_lags_go_before_other_columns(self) -> None:
        columns = ["timestamp", "x", *[f"x_lag_{k}" for k in range(1, 25)], "y", "target"]
        assert select_columns(columns, max_columns=4) == ["target", "timestamp", "x", "y"]

    def test_lags_fill_remaining_room(self) -> None:
        columns = ["x", "x_lag_1", "x_lag_2", "x_lag_3", "y"]
        assert select_columns(columns, max_columns=3) == ["x", "y", "x_lag_1"]

    def test_spread_over_families_when_still_too_wide(self) -> None:
        columns = ["target", *[f"f{i}" for i in range(100)]]
        chosen = select_columns(columns, max_columns=5)
        assert chosen == ["target", "f0", "f33", "f66", "f99"]

    def test_rejects_zero(self) -> None:
        with pytest.raises(VolcastError, match="max_columns"):
            select_columns(["a"], max_columns=0)


def test_profile_title() -> None:
    assert profile_title("x", synthetic=False) == "x"
    assert profile_title("x", synthetic=True) == f"x [{SYNTHETIC_LABEL}]"
    assert profile_title("Synthetic data demo", synthetic=True) == "Synthetic data demo"
