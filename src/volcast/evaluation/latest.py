"""Forecasts made at the latest bar, as training makes them: the model's and HAR's.

Shared by the API (``serving``) and the stream worker (``pipeline.stream``), so the live
forecast of a bar is the one the backtest would have made: features for the last ``rows``
complete dataset rows, the model run through them by :func:`~volcast.evaluation.folds.
predict_block` (sequential models such as EWMA, GARCH and the combination carry state row to
row, so scoring the last row alone would be wrong for them), the last forecast kept. The HAR
baseline is refitted on the same bars with the model's feature builder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from volcast.errors import ModelError, VolcastError
from volcast.evaluation.folds import predict_block
from volcast.features import FeatureBuilder, build_dataset
from volcast.models import HarModel
from volcast.schemas import TIMESTAMP


class BarModel(Protocol):
    """A fitted model with the feature builder it was trained with (``ServedModel``)."""

    @property
    def symbol(self) -> str: ...

    @property
    def interval(self) -> str: ...

    @property
    def builder(self) -> FeatureBuilder: ...

    @property
    def feature_inputs(self) -> list[str]: ...

    @property
    def sequential(self) -> bool: ...

    def predict(self, X: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class BarForecast:
    """A variance forecast made at bar ``as_of`` from stored bars, with its feature row."""

    as_of: pd.Timestamp
    variance: float
    features: dict[str, float]


def score_latest(
    model: BarModel,
    bars: pd.DataFrame,
    *,
    rows: int,
    headlines: pd.DataFrame | None = None,
) -> BarForecast:
    """Forecast at the last of the cleaned ``bars``, made as training makes it.

    ``headlines`` (``published``, ``title``) are required when the model was trained with
    the news features (``features.news``), which are joined as training joined them.
    Raises ModelError when the bars are too few to complete the model's inputs, ConfigError
    when the model needs headlines and none were given.
    """
    builder = model.builder
    data = build_dataset(
        bars.tail(rows + builder.required_history),
        features=builder.features,
        target=builder.target,
        interval=builder.interval,
        headlines=headlines,
    ).drop(columns=["target"])
    last = data.iloc[-1]
    values = {name: float(last[name]) for name in model.feature_inputs if name in data.columns}
    missing = [n for n in model.feature_inputs if not math.isfinite(values.get(n, math.nan))]
    if missing:
        raise ModelError(
            f"the latest {len(bars)} bars leave {len(missing)} model input(s) incomplete "
            f"({', '.join(missing[:5])}); the model needs {builder.required_history} bars",
            symbol=model.symbol,
            interval=model.interval,
        )
    complete = data.iloc[builder.warmup_bars :].tail(rows)
    complete = complete[complete[model.feature_inputs].notna().all(axis=1)].reset_index(drop=True)
    variance = float(predict_block(model, complete, len(complete) - 1, len(complete))[0])
    return BarForecast(as_of=pd.Timestamp(last[TIMESTAMP]), variance=variance, features=values)


def fit_har(bars: pd.DataFrame, builder: FeatureBuilder) -> HarModel:
    """The HAR baseline fitted on ``bars`` with ``builder``'s features and target.

    Raises VolcastError, ValueError, KeyError or LinAlgError when it cannot be fitted.
    """
    features = builder.features.model_copy(update={"news": False})  # HAR reads no news
    data = build_dataset(bars, features=features, target=builder.target, interval=builder.interval)
    train = data.dropna(subset=[*builder.feature_names, "target"])
    har = HarModel(interval=builder.interval, horizon=builder.target.horizon)
    har.fit(train.drop(columns=["target"]), train["target"])
    return har


def har_last(har: HarModel | None, builder: FeatureBuilder, bars: pd.DataFrame) -> float | None:
    """The HAR forecast at the last of ``bars`` (None without a HAR or when it fails)."""
    if har is None:
        return None
    row = builder.transform_last(bars)
    frame = pd.DataFrame({c: [float(row.get(c, math.nan))] for c in har.columns_})
    frame.insert(0, TIMESTAMP, pd.DatetimeIndex([pd.Timestamp(row.name)]))  # type: ignore[arg-type]
    try:
        value = float(har.predict(frame)[0])
    except (VolcastError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None
    return value if math.isfinite(value) else None
