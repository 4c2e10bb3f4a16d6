"""Just enough PromQL reading for the tests: the metric names a query selects.

Not a parser: it drops label matchers (``{...}``), grouping clauses (``by (...)`` and the
like), range and offset durations and string literals, then keeps the identifiers that are
not functions, aggregations or keywords. Good enough to catch a misspelt metric name.
"""

from __future__ import annotations

import re

FUNCTIONS = {
    # aggregations and keywords
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset",
    # functions of Prometheus 2.42
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "ln", "log2", "log10", "minute", "month",
    "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt",
    "time", "timestamp", "vector", "year", "avg_over_time", "min_over_time", "max_over_time",
    "sum_over_time", "count_over_time", "quantile_over_time", "stddev_over_time",
    "stdvar_over_time", "last_over_time", "present_over_time", "acos", "asin", "atan",
    "cos", "sin", "tan", "deg", "rad", "pi", "inf", "nan",
}  # fmt: skip

_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{[^}]*\}")
_STRINGS = re.compile(r'"[^"]*"')
_RANGES = re.compile(r"\[[^\]]*\]")
_DURATIONS = re.compile(r"\boffset\s+\w+")
_NUMBERS = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names selected by ``expr``."""
    text = _MATCHERS.sub(" ", _STRINGS.sub('""', expr))
    for pattern in (_GROUPING, _RANGES, _DURATIONS, _NUMBERS):
        text = pattern.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in FUNCTIONS}
