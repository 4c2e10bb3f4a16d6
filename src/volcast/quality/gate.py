"""The quality gate (SPEC 2): every check on one batch of bars -> clean bars + report.

The batch is the curated history followed by the new increment, in arrival order, so counts
and orderings are judged on the whole dataset (a one-bar increment on 5,000 curated bars has
enough records; an increment that goes back in time is non-monotonic). Ratio rules
(:data:`RATIO_CHECKS`) are judged twice, on the whole batch and on the increment alone: a
limit on a share must not be diluted by a long clean history.

The checks after ``exact_duplicates`` need typed values: when ``required_columns`` or
``schema`` fails they are reported as ``not_run`` instead of running on garbage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from volcast.config import QualityParams
from volcast.quality.checks import (
    check_conflicting_duplicates,
    check_exact_duplicates,
    check_freshness,
    check_interval,
    check_monotonic,
    check_null_ratio,
    check_ohlc_consistency,
    check_positive_prices,
    check_record_count,
    check_return_outliers,
    check_volume_non_negative,
    sorted_by_time,
)
from volcast.quality.report import CheckResult, QualityReport
from volcast.quality.results import not_run
from volcast.quality.schema import to_bar_frame, validate_schema
from volcast.schemas import TIMESTAMP, interval_timedelta

VALUE_CHECKS = (
    "freshness",
    "exact_duplicates",
    "duplicates",
    "monotonic",
    "interval",
    "ohlc_consistency",
    "positive_prices",
    "volume_non_negative",
    "return_outliers",
)
"""Checks that need every required column present and typed."""

RATIO_CHECKS = ("null_ratio",)
"""Checks whose limit is a share of rows: they must also hold for the increment alone."""


def run_checks(
    bars: pd.DataFrame,
    *,
    symbol: str,
    interval: str,
    source: str,
    params: QualityParams,
    live: bool,
    max_staleness: pd.Timedelta | None = None,
    now: pd.Timestamp | None = None,
    increment_rows: int = 0,
) -> tuple[pd.DataFrame, QualityReport]:
    """Run every check on ``bars``; return the clean bars and the report.

    ``bars`` is the curated history followed by the new increment, whose last
    ``increment_rows`` rows are the increment: every ratio rule (:data:`RATIO_CHECKS`) must
    also hold for those rows alone.

    The clean bars are typed (UTC timestamps, float64 prices and volume), have exact
    duplicates and null-timestamp rows dropped, are sorted by time with a fresh index, and
    have exactly :data:`BAR_COLUMNS`. When the report fails the frame is only what could be
    typed: never persist it. Freshness is checked when ``live`` (limit
    ``params.max_staleness_bars`` intervals) or when ``max_staleness`` is given (that limit
    wins). ``now`` defaults to the current time. ``bars`` is not modified.
    """
    step = interval_timedelta(interval)
    frame = bars.reset_index(drop=True)
    checked_at = datetime.now(UTC)
    typed, required, schema = validate_schema(frame)
    results: dict[str, CheckResult] = {"required_columns": required, "schema": schema}
    results["null_ratio"] = check_null_ratio(
        frame, max_ratio=params.max_null_ratio, increment_rows=increment_rows
    )

    bar_frame = to_bar_frame(typed)
    failed_deps = [r.name for r in (required, schema) if not r.passed]
    if failed_deps:
        results["record_count"] = check_record_count(len(frame), min_records=params.min_records)
        results.update({name: not_run(name, failed_deps) for name in VALUE_CHECKS})
        clean = bar_frame.reset_index(drop=True)
    else:
        dup_mask, results["exact_duplicates"] = check_exact_duplicates(bar_frame)
        deduped = bar_frame.loc[~dup_mask] if dup_mask.any() else bar_frame
        clean = sorted_by_time(deduped).reset_index(drop=True)
        results["record_count"] = check_record_count(len(clean), min_records=params.min_records)
        max_age = max_staleness
        if max_age is None and live:
            max_age = params.max_staleness_bars * step
        when = pd.Timestamp.now(tz="UTC") if now is None else _as_utc(now)
        results["freshness"] = check_freshness(
            deduped[TIMESTAMP], interval=step, max_age=max_age, now=when
        )
        results["duplicates"] = check_conflicting_duplicates(deduped)
        results["monotonic"] = check_monotonic(deduped)
        results["interval"] = check_interval(deduped[TIMESTAMP], interval=step, label=interval)
        results["ohlc_consistency"] = check_ohlc_consistency(deduped)
        results["positive_prices"] = check_positive_prices(deduped)
        results["volume_non_negative"] = check_volume_non_negative(
            deduped if "volume" in typed.columns else deduped.drop(columns="volume")
        )
        results["return_outliers"] = check_return_outliers(deduped, zscore=params.outlier_zscore)

    order = ("required_columns", "schema", "null_ratio", "record_count", *VALUE_CHECKS)
    checks = [results[name] for name in order]
    passed = not any(c.severity == "error" and c.status == "failed" for c in checks)
    report = QualityReport(
        symbol=symbol,
        interval=interval,
        source=source,
        checked_at=checked_at,
        n_rows=len(frame),
        passed=passed,
        checks=checks,
    )
    return clean, report


def _as_utc(ts: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
