"""Column presence and dtypes of raw bars: a pandera schema that also types the frame.

Timestamps become UTC (naive ones are read as UTC), prices and volume float64. The
``required_columns`` and ``schema`` check results come from here; values that do not parse
are reported with their row and left null in the typed frame.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from volcast.quality.report import MAX_EXAMPLES, CheckResult
from volcast.quality.results import result
from volcast.schemas import KEY_COLUMNS, PRICE_COLUMNS, TIMESTAMP

UTC_DTYPE = pd.DatetimeTZDtype("ns", "UTC")


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
            result(
                "required_columns",
                False,
                f"missing required column(s): {', '.join(missing)}; "
                f"present: {', '.join(map(str, frame.columns))}",
                count=len(missing),
            )
            if missing
            else _required_ok()
        )
        return typed, required, _schemaresult(bad)
    return typed, _required_ok(), result("schema", True, "every value has a valid type")


def _required_ok() -> CheckResult:
    return result("required_columns", True, f"columns {', '.join(KEY_COLUMNS)} are present")


def _schemaresult(bad: pd.DataFrame) -> CheckResult:
    if bad.empty:
        return result("schema", True, "every value has a valid type")
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
    return result("schema", False, "; ".join(parts), count=len(bad), examples=examples)


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
