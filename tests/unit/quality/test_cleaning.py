"""Bar cleaning: isolated gaps are filled with flat bars, long gaps are left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.quality import clean_bars
from volcast.schemas import BAR_COLUMNS

from .factory import make_bars


def test_isolated_gap_becomes_a_flat_bar_at_previous_close() -> None:
    full = make_bars(48)
    holed = full.drop(index=20).reset_index(drop=True)
    before = holed.copy()
    out = clean_bars(holed, interval="1h")
    pd.testing.assert_frame_equal(holed, before)
    assert list(out.columns) == list(BAR_COLUMNS)
    pd.testing.assert_series_equal(out["timestamp"], full["timestamp"])
    filled = out.loc[20]
    previous_close = full.loc[19, "close"]
    assert [filled[c] for c in ("open", "high", "low", "close")] == [previous_close] * 4
    assert filled["volume"] == 0.0
    pd.testing.assert_frame_equal(out.drop(index=20), holed.set_axis(out.index.drop(20)))


def test_weekend_gap_is_left_alone() -> None:
    friday = make_bars(24, start="2024-01-05T00:00:00Z", seed=1)
    monday = make_bars(24, start="2024-01-08T00:00:00Z", seed=2)
    bars = pd.concat([friday, monday], ignore_index=True)
    out = clean_bars(bars, interval="1h")
    pd.testing.assert_frame_equal(out, bars)


def test_gaps_up_to_max_gap_fill_are_filled_and_longer_ones_not() -> None:
    full = make_bars(60)
    holed = full.drop(index=[10, 11, 30, 31, 32]).reset_index(drop=True)
    two = clean_bars(holed, interval="1h", max_gap_fill=2)
    assert len(two) == len(holed) + 2
    assert set(full["timestamp"].iloc[[10, 11]]) <= set(two["timestamp"])
    assert not set(full["timestamp"].iloc[[30, 31, 32]]) & set(two["timestamp"])
    pd.testing.assert_frame_equal(clean_bars(holed, interval="1h", max_gap_fill=0), holed)


def test_null_price_bar_is_treated_as_a_missing_bar() -> None:
    bars = make_bars(30)
    bars.loc[12, "high"] = np.nan
    out = clean_bars(bars, interval="1h")
    assert len(out) == 30
    assert out.loc[12, "high"] == out.loc[12, "low"] == bars.loc[11, "close"]
    assert not out[["open", "high", "low", "close"]].isna().any().any()


def test_off_grid_gap_is_left_alone() -> None:
    bars = make_bars(30)
    bars.loc[15:, "timestamp"] += pd.Timedelta(minutes=90)
    out = clean_bars(bars, interval="1h")
    pd.testing.assert_frame_equal(out, bars)


def test_negative_max_gap_fill_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_gap_fill"):
        clean_bars(make_bars(30), interval="1h", max_gap_fill=-1)


def test_daily_holiday_is_not_filled_by_default_but_intraday_outage_is() -> None:
    daily = make_bars(10, freq="1D").drop(index=4).reset_index(drop=True)
    assert len(clean_bars(daily, interval="1d")) == 9  # a holiday stays a missing day
    assert len(clean_bars(daily, interval="1d", max_gap_fill=1)) == 10  # unless asked
    hourly = make_bars(10, freq="1h").drop(index=4).reset_index(drop=True)
    assert len(clean_bars(hourly, interval="1h")) == 10
