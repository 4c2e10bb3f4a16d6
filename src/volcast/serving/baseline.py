"""The HAR baseline served next to every forecast, refit on the bars in memory.

One :class:`HarBaselines` per service caches the fitted HAR of each series by the content
hash of its bars, so it is refit once per new bar, not per request.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from volcast.errors import VolcastError
from volcast.evaluation.latest import fit_har, har_last
from volcast.models import HarModel
from volcast.registry.served import ServedModel
from volcast.schemas import TIMESTAMP
from volcast.serving.bars import Bars

log = logging.getLogger(__name__)

Key = tuple[str, str]


class HarBaselines:
    """HAR models fitted on each series' bars, once per content hash."""

    def __init__(self) -> None:
        self._fitted: dict[tuple[Key, str], HarModel | None] = {}

    def fit(self, key: Key, model: ServedModel, bars: Bars) -> HarModel | None:
        """The HAR fitted on ``bars`` with the model's features (None when it cannot be)."""
        cache_key = (key, bars.content_hash)
        if cache_key in self._fitted:
            return self._fitted[cache_key]
        har: HarModel | None
        try:
            har = fit_har(bars.frame, model.builder)
        except (VolcastError, ValueError, KeyError, np.linalg.LinAlgError) as exc:
            log.warning("HAR baseline unavailable for %s %s: %s", *key, exc)
            har = None
        self._fitted = {k: v for k, v in self._fitted.items() if k[0] != key}
        self._fitted[cache_key] = har
        return har


def forecast_last(har: HarModel | None, model: ServedModel, bars: pd.DataFrame) -> float | None:
    """The HAR forecast at the last of ``bars`` (None without a HAR or when it fails)."""
    return har_last(har, model.builder, bars)


def forecast_rows(
    har: HarModel | None, rows: list[dict[str, float]], as_of: list[pd.Timestamp]
) -> list[float | None]:
    """HAR forecasts of explicit feature rows (None where the rows lack its inputs)."""
    if har is None or not rows or any(c not in rows[0] for c in har.columns_):
        return [None] * len(rows)
    frame = pd.DataFrame({c: [row.get(c, math.nan) for row in rows] for c in har.columns_})
    frame.insert(0, TIMESTAMP, pd.DatetimeIndex(as_of))
    try:
        values = [float(v) for v in har.predict(frame)]
    except (VolcastError, ValueError, ArithmeticError):
        return [None] * len(rows)
    return [v if math.isfinite(v) else None for v in values]
