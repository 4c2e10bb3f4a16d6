"""The quality gate's value checks (SPEC 2): one small vectorised function per check.

The gate sees the curated history concatenated with a newly ingested increment in arrival
order. Column presence and dtypes are validated with a pandera schema (which also types the
frame: timestamps to UTC, naive ones read as UTC; prices and volume to float64); every other
check is a small vectorised function over numpy arrays, so a million bars take about a second.

Checks, in report order (``error`` checks stop the pipeline, ``warning`` checks only flag):

======================  ========  ==========================================================
``required_columns``    error     timestamp, open, high, low, close present (volume optional)
``schema``              error     values parse as UTC datetimes / numbers (names the column,
                                  rows and offending values)
``null_ratio``          error     share of nulls in each key column <= ``max_null_ratio``
``record_count``        error     distinct bars >= ``min_records`` over the whole dataset
``freshness``           error     last bar's age <= ``max_staleness_bars`` intervals (live
                                  sources) or ``max_staleness``; skipped (passing) otherwise
``exact_duplicates``    warning   identical repeated bars, dropped from the clean frame
``duplicates``          error     one timestamp carrying different values
``monotonic``           error     timestamps never go back in arrival order
``ohlc_consistency``    error     low <= min(open, close), max(open, close) <= high
``positive_prices``     error     every price > 0
``volume_non_negative`` error     volume >= 0 (NaN volume is allowed)
``return_outliers``     warning   robust z-score of |log return| above ``outlier_zscore``
======================  ========  ==========================================================

The checks after ``exact_duplicates`` need typed values: when ``required_columns`` or
``schema`` fails they are reported as ``not_run`` instead of running on garbage. Outliers
are flagged, never removed: a real market jump must reach the model, and a human decides
whether a flagged bar is an error. Rows whose timestamp is null are counted by
``null_ratio`` and left out of the clean frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import median_abs_deviation

from volcast.quality.report import MAX_EXAMPLES, CheckResult
from volcast.quality.results import iso, result
from volcast.schemas import KEY_COLUMNS, PRICE_COLUMNS, TIMESTAMP


def check_null_ratio(
    frame: pd.DataFrame, *, max_ratio: float, increment_rows: int = 0
) -> CheckResult:
    """Share of nulls per key column present in ``frame`` (before any typing).

    A ratio rule must hold for a new increment on its own: with ``increment_rows``, the last
    that many rows (the increment, after the curated history) are also measured alone, so 30
    empty closes among 600 new bars (5%) fail even though they are 0.6% of 5,000 bars.
    """
    n = len(frame)
    present = [c for c in KEY_COLUMNS if c in frame.columns]
    if n == 0:
        return result("null_ratio", True, "no rows")
    scopes: list[tuple[str, pd.DataFrame]] = [("", frame)]
    if 0 < increment_rows < n:
        scopes.append(
            (f" in the increment of {increment_rows} new rows", frame.iloc[-increment_rows:])
        )
    over: list[tuple[str, float, str]] = []
    worst: list[str] = []
    for label, part in scopes:
        ratios = {c: float(part[c].isna().to_numpy().mean()) for c in present}
        over.extend((c, r, label) for c, r in ratios.items() if r > max_ratio)
        worst.append(f"{max(ratios.values(), default=0.0):.2%}{label}")
    if not over:
        return result(
            "null_ratio",
            True,
            f"null ratio at most {', '.join(worst)} in key columns (limit {max_ratio:.2%})",
        )
    message = "; ".join(
        f"column {c!r} is {r:.2%} null{label} (limit {max_ratio:.2%})" for c, r, label in over
    )
    columns = list(dict.fromkeys(c for c, _, _ in over))
    count = int(sum(frame[c].isna().sum() for c in columns))
    examples = [
        f"{c} row {int(row)}" for c in columns for row in np.flatnonzero(frame[c].isna())[:2]
    ]
    return result("null_ratio", False, message, count=count, examples=examples)


def check_record_count(n_bars: int, *, min_records: int) -> CheckResult:
    """At least ``min_records`` distinct bars over the whole dataset (history + increment)."""
    ok = n_bars >= min_records
    return result(
        "record_count",
        ok,
        f"{n_bars} bar(s), {'at least' if ok else 'fewer than'} the {min_records} required",
        count=n_bars,
    )


def check_freshness(
    timestamps: pd.Series,
    *,
    interval: pd.Timedelta,
    max_age: pd.Timedelta | None,
    now: pd.Timestamp,
) -> CheckResult:
    """The last bar closed at most ``max_age`` before ``now``; skipped when ``max_age`` is None.

    A bar stamped ``t`` closes at ``t + interval``, so its age is ``now - t - interval``. A
    last bar stamped after ``now`` fails too: it points at a time-zone or clock error.
    """
    if max_age is None:
        return CheckResult(
            name="freshness",
            passed=True,
            severity="error",
            message="skipped: not a live source (historical data is old by nature); "
            "pass max_staleness to check it",
            status="skipped",
        )
    valid = timestamps.dropna()
    if valid.empty:
        return result("freshness", False, "no bar with a timestamp to measure freshness")
    last = valid.max()
    age = now - last - interval
    if last > now:
        # a bar that has not even started: timestamps in the wrong zone or a skewed clock
        return result(
            "freshness",
            False,
            f"last bar {iso(last)} starts after now ({iso(now.floor('s'))}): "
            "timestamps in the wrong time zone or a clock error",
        )
    ok = age <= max_age
    return result(
        "freshness",
        ok,
        f"last bar {iso(last)} closed {age.floor('s')} ago; limit {max_age}",
        examples=[] if ok else [f"now {iso(now.floor('s'))}"],
    )


def _increasing(timestamps: pd.Series) -> bool:
    """True when no timestamp is null and each is later than the one before (the usual case)."""
    values = timestamps.to_numpy(dtype="datetime64[ns]")
    return not np.isnat(values).any() and bool((np.diff(values.view("int64")) > 0).all())


def sorted_by_time(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without null timestamps, in time order (itself when it already is)."""
    if _increasing(frame[TIMESTAMP]):
        return frame
    return frame.dropna(subset=[TIMESTAMP]).sort_values(TIMESTAMP, kind="stable")


def check_exact_duplicates(frame: pd.DataFrame) -> tuple[np.ndarray, CheckResult]:
    """Mask of repeated identical bars (all but the first of each), and the warning result."""
    mask = np.zeros(len(frame), dtype=bool)
    if not _increasing(frame[TIMESTAMP]):
        # identical bars share a timestamp: compare whole rows only where timestamps repeat
        candidates = frame[TIMESTAMP].duplicated(keep=False).to_numpy()
        if candidates.any():
            mask[candidates] = frame.loc[candidates].duplicated(keep="first").to_numpy()
    count = int(mask.sum())
    if count == 0:
        return mask, result("exact_duplicates", True, "no repeated bars")
    rows = np.flatnonzero(mask)
    examples = [f"row {frame.index[i]}: {iso(frame[TIMESTAMP].iloc[i])}" for i in rows]
    return mask, result(
        "exact_duplicates",
        False,
        f"{count} exact duplicate bar(s) dropped",
        count=count,
        examples=examples,
    )


def check_conflicting_duplicates(frame: pd.DataFrame) -> CheckResult:
    """No timestamp appears twice with different values (``frame`` has exact repeats dropped)."""
    if _increasing(frame[TIMESTAMP]):
        return result("duplicates", True, "every timestamp is unique")
    ts = frame[TIMESTAMP].dropna()
    mask = ts.duplicated(keep=False)
    if not mask.any():
        return result("duplicates", True, "every timestamp is unique")
    conflicted = pd.unique(ts[mask])
    return result(
        "duplicates",
        False,
        f"{len(conflicted)} timestamp(s) carry different bars",
        count=len(conflicted),
        examples=[iso(t) for t in conflicted],
    )


def check_interval(timestamps: pd.Series, *, interval: pd.Timedelta, label: str) -> CheckResult:
    """The most common spacing between consecutive bars equals the declared interval.

    Gaps (weekends, holidays, outages) are longer than the interval but rarer than regular
    steps, so the mode is the bar size; hourly bars declared ``15min`` (or the reverse) fail
    instead of silently mis-scaling every window, lag and annualisation downstream.
    """
    values = np.sort(timestamps.dropna().to_numpy(dtype="datetime64[ns]").view("int64"))
    steps = np.diff(values)
    steps = steps[steps > 0]
    if steps.size == 0:
        return result("interval", True, "fewer than two distinct timestamps: nothing to compare")
    spacings, counts = np.unique(steps, return_counts=True)
    mode = pd.Timedelta(int(spacings[np.argmax(counts)]), unit="ns")
    share = counts.max() / steps.size
    ok = mode == interval
    return result(
        "interval",
        ok,
        f"most common bar spacing {mode} ({share:.0%} of steps)"
        + ("" if ok else f" is not the declared interval {label} ({interval})"),
    )


def check_monotonic(frame: pd.DataFrame) -> CheckResult:
    """Timestamps never go back in arrival order (equal ones are ``duplicates``' business)."""
    ts = frame[TIMESTAMP].dropna()
    values = ts.to_numpy(dtype="datetime64[ns]").view("int64")
    back = np.flatnonzero(np.diff(values) < 0) + 1
    if back.size == 0:
        return result("monotonic", True, "timestamps increase in arrival order")
    examples = [f"row {ts.index[i]}: {iso(ts.iloc[i])} after {iso(ts.iloc[i - 1])}" for i in back]
    return result(
        "monotonic",
        False,
        f"{back.size} bar(s) arrive earlier than the bar before them",
        count=int(back.size),
        examples=examples,
    )


def _row_examples(frame: pd.DataFrame, rows: np.ndarray, columns: Sequence[str]) -> list[str]:
    sub = frame.iloc[rows[:MAX_EXAMPLES]]
    return [
        f"row {idx} ({iso(rec[TIMESTAMP])}): " + ", ".join(f"{c}={rec[c]!r}" for c in columns)
        for idx, rec in zip(sub.index, sub.to_dict("records"), strict=True)
    ]


def check_ohlc_consistency(frame: pd.DataFrame) -> CheckResult:
    """low <= min(open, close), max(open, close) <= high, low <= high (nulls are not judged)."""
    o, h, lo, c = (frame[k].to_numpy(dtype="float64") for k in PRICE_COLUMNS)
    bad = (lo > o) | (lo > c) | (h < o) | (h < c) | (h < lo)
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return result("ohlc_consistency", True, "every bar has low <= open, close <= high")
    return result(
        "ohlc_consistency",
        False,
        f"{rows.size} bar(s) violate low <= open, close <= high",
        count=int(rows.size),
        examples=_row_examples(frame, rows, PRICE_COLUMNS),
    )


def check_positive_prices(frame: pd.DataFrame) -> CheckResult:
    """Every non-null price is strictly positive."""
    prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype="float64")
    rows = np.flatnonzero((prices <= 0).any(axis=1))
    if rows.size == 0:
        return result("positive_prices", True, "every price is > 0")
    return result(
        "positive_prices",
        False,
        f"{rows.size} bar(s) have a price <= 0",
        count=int(rows.size),
        examples=_row_examples(frame, rows, PRICE_COLUMNS),
    )


def check_volume_non_negative(frame: pd.DataFrame) -> CheckResult:
    """Volume is >= 0 where known; a missing column or NaN volume is allowed."""
    if "volume" not in frame.columns:
        return result("volume_non_negative", True, "no volume column (volume is optional)")
    rows = np.flatnonzero(frame["volume"].to_numpy(dtype="float64") < 0)
    if rows.size == 0:
        return result("volume_non_negative", True, "every known volume is >= 0")
    return result(
        "volume_non_negative",
        False,
        f"{rows.size} bar(s) have a negative volume",
        count=int(rows.size),
        examples=_row_examples(frame, rows, ("volume",)),
    )


def robust_zscores(values: np.ndarray) -> np.ndarray:
    """``|x - median| / MAD`` with the MAD scaled to a normal sigma (NaN stays NaN).

    When more than half the values are equal (MAD 0, e.g. an illiquid series of flat bars),
    the standard deviation stands in so that every non-zero move is not an outlier.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full_like(values, np.nan)
    center = float(np.median(finite))
    scale = float(median_abs_deviation(finite, scale="normal"))
    if scale == 0.0:
        scale = float(np.std(finite))
    if scale == 0.0:
        return np.zeros_like(values)
    return np.abs(values - center) / scale


def check_return_outliers(frame: pd.DataFrame, *, zscore: float) -> CheckResult:
    """Flag bars whose close-to-close log return has a robust z-score above ``zscore``.

    Returns are taken in time order over the bars present (a weekend gap gives one return).
    """
    ordered = sorted_by_time(frame)
    close = ordered["close"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.where(close > 0, np.log(close), np.nan)
    returns = np.diff(log_close)
    z = robust_zscores(returns)
    rows = np.flatnonzero(z > zscore) + 1
    if rows.size == 0:
        return result("return_outliers", True, f"no log return beyond {zscore} robust sigmas")
    examples = [
        f"{iso(ordered[TIMESTAMP].iloc[i])}: log return {returns[i - 1]:+.4g} (z={z[i - 1]:.1f})"
        for i in rows[:MAX_EXAMPLES]
    ]
    return result(
        "return_outliers",
        False,
        f"{rows.size} log return(s) beyond {zscore} robust sigmas (flagged, kept)",
        count=int(rows.size),
        examples=examples,
    )
