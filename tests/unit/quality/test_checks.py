"""The quality gate: each corruption fails exactly its check, clean data passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers import BTC_CSV, require_file
from volcast.config import QualityParams
from volcast.errors import DataQualityError, QualityGateError
from volcast.quality import QualityReport, run_checks
from volcast.schemas import BAR_COLUMNS

from .factory import make_bars

PARAMS = QualityParams()
LAST = pd.Timestamp("2024-01-05T03:00:00Z")  # last bar of make_bars(100)


def _gate(bars: pd.DataFrame, **kwargs: Any) -> tuple[pd.DataFrame, QualityReport]:
    options: dict[str, Any] = {
        "symbol": "EUR/USD",
        "interval": "1h",
        "source": "csv",
        "params": PARAMS,
        "live": False,
    }
    options.update(kwargs)
    clean, report = run_checks(bars, **options)
    if not report.passed:
        raise QualityGateError(report)
    return clean, report


def _set(frame: pd.DataFrame, rows: list[int], column: str, value: object) -> pd.DataFrame:
    out = frame.copy()
    if not isinstance(value, float | int):
        out[column] = out[column].astype(object)
    out.loc[rows, column] = value
    return out


def _swap_rows(frame: pd.DataFrame) -> pd.DataFrame:
    order = list(range(len(frame)))
    order[50], order[51] = order[51], order[50]
    return frame.iloc[order].reset_index(drop=True)


def _conflicting_duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    extra = frame.iloc[[-1]].copy()
    extra["close"] = extra["close"] * 1.0001
    extra["high"] = extra["high"] * 1.001
    return pd.concat([frame, extra], ignore_index=True)


def _high_below_low(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[10, "high"] = out.loc[10, "low"] * 0.99
    return out


CORRUPTIONS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], dict[str, Any], list[str]]] = {
    "nulls over 1% in close": (lambda f: _set(f, [5, 40], "close", np.nan), {}, ["null_ratio"]),
    "high below low": (_high_below_low, {}, ["ohlc_consistency"]),
    "conflicting duplicate": (_conflicting_duplicate, {}, ["duplicates"]),
    "non-numeric price": (lambda f: _set(f, [7], "close", "abc"), {}, ["schema"]),
    "unparseable timestamp": (lambda f: _set(f, [3], "timestamp", "yesterday"), {}, ["schema"]),
    "negative price": (lambda f: _set(f, [12], "low", -1.0), {}, ["positive_prices"]),
    "negative volume": (lambda f: _set(f, [12], "volume", -5.0), {}, ["volume_non_negative"]),
    "missing column": (lambda f: f.drop(columns="low"), {}, ["required_columns"]),
    "non-monotonic": (_swap_rows, {}, ["monotonic"]),
    "stale when live": (
        lambda f: f,
        {"live": True, "now": LAST + pd.Timedelta(hours=5)},
        ["freshness"],
    ),
    "stale file with max_staleness": (
        lambda f: f,
        {"max_staleness": pd.Timedelta(hours=2), "now": LAST + pd.Timedelta(days=30)},
        ["freshness"],
    ),
    "too few records": (lambda f: f.head(PARAMS.min_records - 1), {}, ["record_count"]),
    "nulls and high below low": (
        lambda f: _high_below_low(_set(f, [5, 40], "open", np.nan)),
        {},
        ["null_ratio", "ohlc_consistency"],
    ),
}


def test_clean_frame_passes_every_check() -> None:
    bars = make_bars(100)
    clean, report = _gate(bars)
    assert report.passed
    assert report.failed == []
    assert report.warnings == []
    statuses = {c.name: c.status for c in report.checks}
    assert statuses.pop("freshness") == "skipped"
    assert set(statuses.values()) == {"passed"}
    assert list(clean.columns) == list(BAR_COLUMNS)
    pd.testing.assert_frame_equal(clean, bars)


@pytest.mark.parametrize("case", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_corruption_fails_exactly_its_check(case: str) -> None:
    corrupt, kwargs, expected = CORRUPTIONS[case]
    bars = corrupt(make_bars(100))
    with pytest.raises(DataQualityError) as info:
        _gate(bars, **kwargs)
    error = info.value
    assert error.failed_checks == expected
    report = error.report  # type: ignore[attr-defined]
    assert isinstance(report, QualityReport)
    assert report.failed == expected
    assert not report.passed
    for name in expected:
        assert f"- {name}: " in str(error)
    named = {line.split(":")[0].lstrip("- ") for line in str(error).splitlines()[1:]}
    assert named == set(expected)


def test_null_ratio_message_names_column_and_ratio() -> None:
    bars = _set(make_bars(100), [5, 40], "close", np.nan)
    _, report = run_checks(bars, symbol="X", interval="1h", source="csv", params=PARAMS, live=False)
    result = report.check("null_ratio")
    assert "'close'" in result.message
    assert "2.00%" in result.message
    assert result.count == 2


def test_null_ratio_must_hold_for_the_increment_alone() -> None:
    # 30 empty closes in a 600-bar increment: 5% of the increment, 0.54% of all 5600 bars.
    bars = _set(make_bars(5600), list(range(5000, 5600, 20)), "close", np.nan)
    _, diluted = run_checks(
        bars, symbol="X", interval="1h", source="csv", params=PARAMS, live=False
    )
    assert diluted.passed  # what the gate saw before: the history hides the increment
    with pytest.raises(DataQualityError) as info:
        _gate(bars, increment_rows=600)
    assert info.value.failed_checks == ["null_ratio"]
    message = info.value.report.check("null_ratio").message  # type: ignore[attr-defined]
    assert "'close' is 5.00% null in the increment of 600 new rows (limit 1.00%)" in message
    assert "0.54%" not in message  # the whole batch is under the limit: not named


def test_increment_under_the_ratio_limit_passes() -> None:
    bars = _set(make_bars(5600), [5100, 5400], "close", np.nan)  # 2 of 600: 0.33%
    _, report = _gate(bars, increment_rows=600)
    assert report.passed
    assert "in the increment of 600 new rows" in report.check("null_ratio").message


def test_nulls_under_limit_pass_and_null_timestamps_are_dropped() -> None:
    bars = _set(make_bars(200), [5], "close", np.nan)
    bars = _set(bars, [9], "timestamp", pd.NaT)
    clean, report = _gate(bars)
    assert report.passed
    assert len(clean) == 199
    assert clean["timestamp"].notna().all()
    assert np.isnan(clean.loc[5, "close"])


def test_non_numeric_price_names_column_row_and_value() -> None:
    bars = _set(make_bars(100), [7, 30], "close", "abc")
    with pytest.raises(DataQualityError) as info:
        _gate(bars)
    message = str(info.value)
    assert "'close'" in message
    assert "row 7: 'abc'" in message
    assert "row 30: 'abc'" in message
    report: QualityReport = info.value.report  # type: ignore[attr-defined]
    assert report.check("ohlc_consistency").status == "not_run"
    assert report.check("null_ratio").status == "passed"


def test_missing_column_skips_dependent_checks_and_names_the_column() -> None:
    bars = make_bars(100).drop(columns=["low", "volume"])
    clean, report = run_checks(
        bars, symbol="X", interval="1h", source="csv", params=PARAMS, live=False
    )
    assert report.failed == ["required_columns"]
    assert "low" in report.check("required_columns").message
    assert "volume" not in report.check("required_columns").message
    assert report.check("monotonic").status == "not_run"
    assert "required_columns" in report.check("monotonic").message
    assert list(clean.columns) == list(BAR_COLUMNS)


def test_exact_duplicates_are_dropped_with_a_warning() -> None:
    bars = make_bars(100)
    resent = pd.concat([bars, bars.tail(3), bars.tail(3)], ignore_index=True)
    clean, report = _gate(resent)
    assert report.passed
    assert report.warnings == ["exact_duplicates"]
    assert report.check("exact_duplicates").count == 6
    pd.testing.assert_frame_equal(clean, bars)


def test_one_bar_increment_on_curated_history_passes() -> None:
    both = make_bars(101)
    curated, _ = _gate(both.head(100))
    increment = both.tail(1).copy()
    increment[["open", "high", "low", "close"]] = increment[
        ["open", "high", "low", "close"]
    ].astype(str)
    clean, report = _gate(pd.concat([curated, increment], ignore_index=True))
    assert report.passed
    assert len(clean) == 101
    assert report.check("record_count").count == 101
    assert clean["close"].dtype == np.float64


def test_fresh_live_data_passes() -> None:
    _, report = _gate(make_bars(100), live=True, now=LAST + pd.Timedelta(hours=2, minutes=30))
    assert report.check("freshness").status == "passed"


def test_stale_file_source_is_skipped_without_max_staleness() -> None:
    _, report = _gate(make_bars(100), live=False, now=LAST + pd.Timedelta(days=365))
    result = report.check("freshness")
    assert result.status == "skipped"
    assert result.passed


def test_outliers_are_flagged_but_pass() -> None:
    bars = make_bars(300)
    jump = bars.loc[150, "timestamp"]
    bars.loc[150:, ["open", "high", "low", "close"]] *= 1.2
    bars.loc[150, "open"] = bars.loc[149, "close"]
    bars.loc[150, "low"] = bars.loc[150, "open"] * 0.999
    clean, report = _gate(bars)
    assert report.passed
    assert report.warnings == ["return_outliers"]
    result = report.check("return_outliers")
    assert result.count == 1
    assert jump.isoformat() in result.examples[0]
    assert len(clean) == 300


def test_types_are_coerced_to_utc_and_float() -> None:
    bars = make_bars(50)
    bars["timestamp"] = bars["timestamp"].dt.tz_convert("Europe/Paris").astype(str)
    bars["volume"] = bars["volume"].astype("int64")
    clean, report = _gate(bars)
    assert report.passed
    assert str(clean["timestamp"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_series_equal(clean["timestamp"], make_bars(50)["timestamp"])
    assert (clean.dtypes.iloc[1:] == np.float64).all()


def test_missing_volume_is_allowed() -> None:
    clean, report = _gate(make_bars(50).drop(columns="volume"))
    assert report.passed
    assert clean["volume"].isna().all()
    assert list(clean.columns) == list(BAR_COLUMNS)


def test_report_json_round_trips() -> None:
    bars = _set(make_bars(100), [7], "close", "abc")
    _, report = run_checks(
        bars, symbol="EUR/USD", interval="1h", source="csv", params=PARAMS, live=False
    )
    again = QualityReport.model_validate_json(report.to_json())
    assert again == report
    assert again.failed == ["schema"]


def test_inputs_are_not_mutated() -> None:
    bars = _set(make_bars(100), [7], "close", "abc")
    bars.index = bars.index + 1000
    before = bars.copy()
    run_checks(bars, symbol="X", interval="1h", source="csv", params=PARAMS, live=False)
    pd.testing.assert_frame_equal(bars, before)
    good = make_bars(100)
    good_before = good.copy()
    clean, _ = _gate(good)
    clean.loc[0, "close"] = -1.0
    pd.testing.assert_frame_equal(good, good_before)


random_walks = st.builds(
    make_bars,
    n=st.integers(min_value=PARAMS.min_records, max_value=400),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    sigma=st.floats(min_value=1e-5, max_value=0.05),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=random_walks, shuffle_seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_random_walk_passes_and_its_shuffle_fails_monotonic(
    bars: pd.DataFrame, shuffle_seed: int
) -> None:
    clean, report = _gate(bars)
    assert report.failed == []
    pd.testing.assert_frame_equal(clean, bars)

    order = np.random.default_rng(shuffle_seed).permutation(len(bars))
    assume(not (np.diff(order) > 0).all())
    with pytest.raises(DataQualityError) as info:
        _gate(bars.iloc[order].reset_index(drop=True))
    assert info.value.failed_checks == ["monotonic"]


def test_real_btc_hourly_file_passes_with_outliers_flagged() -> None:
    from volcast.sources.csv import CsvSource

    bars = CsvSource(path=require_file(BTC_CSV)).fetch(symbol="BTC/USD", interval="1h")
    clean, report = _gate(bars, symbol="BTC/USD")
    assert report.failed == []
    assert len(clean) == report.check("record_count").count > 10_000
    assert clean["timestamp"].is_monotonic_increasing
    assert "return_outliers" in report.warnings


def test_live_bar_stamped_in_the_future_fails_freshness() -> None:
    with pytest.raises(DataQualityError) as info:
        _gate(make_bars(100), live=True, now=LAST - pd.Timedelta(hours=3))
    assert info.value.failed_checks == ["freshness"]
    assert "time zone" in str(info.value)


def test_bars_spaced_unlike_the_declared_interval_fail() -> None:
    hourly = make_bars(100)
    _, report = run_checks(
        hourly, symbol="X", interval="15min", source="csv", params=PARAMS, live=False
    )
    assert report.failed == ["interval"]
    assert "15min" in report.check("interval").message
    _, ok = run_checks(hourly, symbol="X", interval="1h", source="csv", params=PARAMS, live=False)
    assert ok.check("interval").status == "passed"
