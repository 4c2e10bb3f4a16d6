"""The quality gate (SPEC 2): named checks on a batch of bars, a report, and ``gate``.

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
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from scipy.stats import median_abs_deviation

from volcast.config import QualityParams
from volcast.errors import QualityGateError
from volcast.quality.report import MAX_EXAMPLES, CheckResult, QualityReport, Severity
from volcast.schemas import KEY_COLUMNS, PRICE_COLUMNS, TIMESTAMP, interval_timedelta

UTC_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
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

_SEVERITY: dict[str, Severity] = {
    "exact_duplicates": "warning",
    "return_outliers": "warning",
}


@lru_cache(maxsize=1)
def bar_schema() -> pa.DataFrameSchema:
    """The pandera schema of raw bars: required columns and the dtypes they coerce to."""
    columns: dict[str, pa.Column] = {
        TIMESTAMP: pa.Column(UTC_DTYPE, nullable=True, coerce=True),
    }
    for name in PRICE_COLUMNS:
        columns[name] = pa.Column("float64", nullable=True, coerce=True)
    columns["volume"] = pa.Column("float64", nullable=True, coerce=True, required=False)
    return pa.DataFrameSchema(columns, strict=False, name="bars")


def _result(
    name: str,
    ok: bool,
    message: str,
    *,
    count: int = 0,
    examples: Sequence[str] = (),
) -> CheckResult:
    return CheckResult(
        name=name,
        passed=ok,
        severity=_SEVERITY.get(name, "error"),
        message=message,
        count=count,
        examples=list(examples)[:MAX_EXAMPLES],
        status="passed" if ok else "failed",
    )


def _not_run(name: str, because: Sequence[str]) -> CheckResult:
    return CheckResult(
        name=name,
        passed=False,
        severity=_SEVERITY.get(name, "error"),
        message=f"not run: depends on {', '.join(because)}, which failed",
        status="not_run",
    )


def _ts(value: Any) -> str:
    return pd.Timestamp(value).isoformat()


# --------------------------------------------------------------------------- typing


def validate_schema(frame: pd.DataFrame) -> tuple[pd.DataFrame, CheckResult, CheckResult]:
    """Type ``frame`` with :func:`bar_schema`; return it with the ``required_columns`` and
    ``schema`` results.

    ``frame`` must have a RangeIndex so that pandera's failure index is the row number. When
    some value does not parse, the returned frame has it as null (NaN / NaT).
    """
    try:
        typed = bar_schema().validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        missing_mask = cases["check"].astype(str) == "column_in_dataframe"
        missing = sorted(str(c) for c in cases.loc[missing_mask, "failure_case"].unique())
        bad = cases.loc[~missing_mask & cases["check"].astype(str).str.startswith("coerce_dtype")]
        typed = _coerce_leniently(frame)
        required = (
            _result(
                "required_columns",
                False,
                f"missing required column(s): {', '.join(missing)}; "
                f"present: {', '.join(map(str, frame.columns))}",
                count=len(missing),
            )
            if missing
            else _required_ok()
        )
        return typed, required, _schema_result(bad)
    return typed, _required_ok(), _result("schema", True, "every value has a valid type")


def _required_ok() -> CheckResult:
    return _result("required_columns", True, f"columns {', '.join(KEY_COLUMNS)} are present")


def _schema_result(bad: pd.DataFrame) -> CheckResult:
    if bad.empty:
        return _result("schema", True, "every value has a valid type")
    parts: list[str] = []
    examples: list[str] = []
    for column, group in bad.groupby("column", sort=False):
        want = "a UTC datetime" if column == TIMESTAMP else "numeric"
        parts.append(f"column {column!r} has {len(group)} value(s) that are not {want}")
        examples.extend(
            f"{column} row {row}: {value!r}"
            for row, value in zip(
                group["index"].head(MAX_EXAMPLES),
                group["failure_case"].head(MAX_EXAMPLES),
                strict=True,
            )
        )
    return _result("schema", False, "; ".join(parts), count=len(bad), examples=examples)


def _coerce_leniently(frame: pd.DataFrame) -> pd.DataFrame:
    """Type what can be typed: unparseable values become null instead of raising."""
    out = frame.copy()
    if TIMESTAMP in out.columns and out[TIMESTAMP].dtype != UTC_DTYPE:
        out[TIMESTAMP] = _to_utc(out[TIMESTAMP])
    for name in (*PRICE_COLUMNS, "volume"):
        if name in out.columns and out[name].dtype != np.float64:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    return out


def _to_utc(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        converted = values.dt.tz_localize("UTC")
    else:
        converted = pd.Series(
            pd.to_datetime(values, errors="coerce", utc=True, format="mixed"), index=values.index
        )
    return converted.astype(UTC_DTYPE)


def to_bar_frame(typed: pd.DataFrame) -> pd.DataFrame:
    """Exactly :data:`BAR_COLUMNS` in order, a missing volume as NaN."""
    out = pd.DataFrame(index=typed.index)
    out[TIMESTAMP] = (
        typed[TIMESTAMP] if TIMESTAMP in typed.columns else pd.Series(pd.NaT, dtype=UTC_DTYPE)
    )
    for name in (*PRICE_COLUMNS, "volume"):
        out[name] = typed[name] if name in typed.columns else np.nan
    return out


# --------------------------------------------------------------------------- checks


def check_null_ratio(frame: pd.DataFrame, *, max_ratio: float) -> CheckResult:
    """Share of nulls per key column present in ``frame`` (before any typing)."""
    n = len(frame)
    present = [c for c in KEY_COLUMNS if c in frame.columns]
    if n == 0:
        return _result("null_ratio", True, "no rows")
    ratios = {c: float(frame[c].isna().to_numpy().mean()) for c in present}
    over = {c: r for c, r in ratios.items() if r > max_ratio}
    worst = max(ratios.values(), default=0.0)
    if not over:
        return _result(
            "null_ratio",
            True,
            f"null ratio at most {worst:.2%} in key columns (limit {max_ratio:.2%})",
        )
    message = "; ".join(
        f"column {c!r} is {r:.2%} null (limit {max_ratio:.2%})" for c, r in over.items()
    )
    count = int(sum(frame[c].isna().sum() for c in over))
    examples = [f"{c} row {int(row)}" for c in over for row in np.flatnonzero(frame[c].isna())[:2]]
    return _result("null_ratio", False, message, count=count, examples=examples)


def check_record_count(n_bars: int, *, min_records: int) -> CheckResult:
    """At least ``min_records`` distinct bars over the whole dataset (history + increment)."""
    ok = n_bars >= min_records
    return _result(
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
        return _result("freshness", False, "no bar with a timestamp to measure freshness")
    last = valid.max()
    age = now - last - interval
    if last > now:
        # a bar that has not even started: timestamps in the wrong zone or a skewed clock
        return _result(
            "freshness",
            False,
            f"last bar {_ts(last)} starts after now ({_ts(now.floor('s'))}): "
            "timestamps in the wrong time zone or a clock error",
        )
    ok = age <= max_age
    return _result(
        "freshness",
        ok,
        f"last bar {_ts(last)} closed {age.floor('s')} ago; limit {max_age}",
        examples=[] if ok else [f"now {_ts(now.floor('s'))}"],
    )


def _increasing(timestamps: pd.Series) -> bool:
    """True when no timestamp is null and each is later than the one before (the usual case)."""
    values = timestamps.to_numpy(dtype="datetime64[ns]")
    return not np.isnat(values).any() and bool((np.diff(values.view("int64")) > 0).all())


def _sorted_by_time(frame: pd.DataFrame) -> pd.DataFrame:
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
        return mask, _result("exact_duplicates", True, "no repeated bars")
    rows = np.flatnonzero(mask)
    examples = [f"row {frame.index[i]}: {_ts(frame[TIMESTAMP].iloc[i])}" for i in rows]
    return mask, _result(
        "exact_duplicates",
        False,
        f"{count} exact duplicate bar(s) dropped",
        count=count,
        examples=examples,
    )


def check_conflicting_duplicates(frame: pd.DataFrame) -> CheckResult:
    """No timestamp appears twice with different values (``frame`` has exact repeats dropped)."""
    if _increasing(frame[TIMESTAMP]):
        return _result("duplicates", True, "every timestamp is unique")
    ts = frame[TIMESTAMP].dropna()
    mask = ts.duplicated(keep=False)
    if not mask.any():
        return _result("duplicates", True, "every timestamp is unique")
    conflicted = pd.unique(ts[mask])
    return _result(
        "duplicates",
        False,
        f"{len(conflicted)} timestamp(s) carry different bars",
        count=len(conflicted),
        examples=[_ts(t) for t in conflicted],
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
        return _result("interval", True, "fewer than two distinct timestamps: nothing to compare")
    spacings, counts = np.unique(steps, return_counts=True)
    mode = pd.Timedelta(int(spacings[np.argmax(counts)]), unit="ns")
    share = counts.max() / steps.size
    ok = mode == interval
    return _result(
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
        return _result("monotonic", True, "timestamps increase in arrival order")
    examples = [f"row {ts.index[i]}: {_ts(ts.iloc[i])} after {_ts(ts.iloc[i - 1])}" for i in back]
    return _result(
        "monotonic",
        False,
        f"{back.size} bar(s) arrive earlier than the bar before them",
        count=int(back.size),
        examples=examples,
    )


def _row_examples(frame: pd.DataFrame, rows: np.ndarray, columns: Sequence[str]) -> list[str]:
    sub = frame.iloc[rows[:MAX_EXAMPLES]]
    return [
        f"row {idx} ({_ts(rec[TIMESTAMP])}): " + ", ".join(f"{c}={rec[c]!r}" for c in columns)
        for idx, rec in zip(sub.index, sub.to_dict("records"), strict=True)
    ]


def check_ohlc_consistency(frame: pd.DataFrame) -> CheckResult:
    """low <= min(open, close), max(open, close) <= high, low <= high (nulls are not judged)."""
    o, h, lo, c = (frame[k].to_numpy(dtype="float64") for k in PRICE_COLUMNS)
    bad = (lo > o) | (lo > c) | (h < o) | (h < c) | (h < lo)
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return _result("ohlc_consistency", True, "every bar has low <= open, close <= high")
    return _result(
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
        return _result("positive_prices", True, "every price is > 0")
    return _result(
        "positive_prices",
        False,
        f"{rows.size} bar(s) have a price <= 0",
        count=int(rows.size),
        examples=_row_examples(frame, rows, PRICE_COLUMNS),
    )


def check_volume_non_negative(frame: pd.DataFrame) -> CheckResult:
    """Volume is >= 0 where known; a missing column or NaN volume is allowed."""
    if "volume" not in frame.columns:
        return _result("volume_non_negative", True, "no volume column (volume is optional)")
    rows = np.flatnonzero(frame["volume"].to_numpy(dtype="float64") < 0)
    if rows.size == 0:
        return _result("volume_non_negative", True, "every known volume is >= 0")
    return _result(
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
    ordered = _sorted_by_time(frame)
    close = ordered["close"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.where(close > 0, np.log(close), np.nan)
    returns = np.diff(log_close)
    z = robust_zscores(returns)
    rows = np.flatnonzero(z > zscore) + 1
    if rows.size == 0:
        return _result("return_outliers", True, f"no log return beyond {zscore} robust sigmas")
    examples = [
        f"{_ts(ordered[TIMESTAMP].iloc[i])}: log return {returns[i - 1]:+.4g} (z={z[i - 1]:.1f})"
        for i in rows[:MAX_EXAMPLES]
    ]
    return _result(
        "return_outliers",
        False,
        f"{rows.size} log return(s) beyond {zscore} robust sigmas (flagged, kept)",
        count=int(rows.size),
        examples=examples,
    )


# --------------------------------------------------------------------------- gate


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
) -> tuple[pd.DataFrame, QualityReport]:
    """Run every check on ``bars``; return the clean bars and the report.

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
    results["null_ratio"] = check_null_ratio(frame, max_ratio=params.max_null_ratio)

    bar_frame = to_bar_frame(typed)
    failed_deps = [r.name for r in (required, schema) if not r.passed]
    if failed_deps:
        results["record_count"] = check_record_count(len(frame), min_records=params.min_records)
        results.update({name: _not_run(name, failed_deps) for name in VALUE_CHECKS})
        clean = bar_frame.reset_index(drop=True)
    else:
        dup_mask, results["exact_duplicates"] = check_exact_duplicates(bar_frame)
        deduped = bar_frame.loc[~dup_mask] if dup_mask.any() else bar_frame
        clean = _sorted_by_time(deduped).reset_index(drop=True)
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


def gate(
    bars: pd.DataFrame,
    *,
    symbol: str,
    interval: str,
    source: str,
    params: QualityParams,
    live: bool,
    max_staleness: pd.Timedelta | None = None,
    now: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """:func:`run_checks`, raising when any error check fails.

    Raises :class:`QualityGateError` (a :class:`volcast.errors.DataQualityError`) whose
    message names each failed check with its detail, whose ``failed_checks`` lists them and
    whose ``report`` is the full report (write it before exiting).
    """
    clean, report = run_checks(
        bars,
        symbol=symbol,
        interval=interval,
        source=source,
        params=params,
        live=live,
        max_staleness=max_staleness,
        now=now,
    )
    if not report.passed:
        raise QualityGateError(report)
    return clean, report
