"""Forecasts by the served model: of the latest stored bar, at an earlier bar, of feature rows.

The latest forecast is made the way training made its forecasts: features for the last
``rows`` complete dataset rows, the model run through them by
:func:`volcast.evaluation.folds.predict_block` (sequential models such as EWMA, GARCH and the
combination carry state row to row, so scoring the last row alone would be wrong for them),
the last forecast kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from volcast.errors import BadRequestError, ConflictError, ModelError
from volcast.evaluation.folds import predict_block
from volcast.features import build_dataset
from volcast.schemas import TIMESTAMP
from volcast.serving.holder import ServedModel


@dataclass(frozen=True)
class BarForecast:
    """A variance forecast made at bar ``as_of`` from the stored bars, with its features."""

    as_of: pd.Timestamp
    variance: float
    features: dict[str, float]


def score_latest(model: ServedModel, bars: pd.DataFrame, *, rows: int) -> BarForecast:
    """Forecast at the last of the cleaned ``bars``, made as training makes it.

    Raises ModelError when the bars are too few to complete the model's inputs.
    """
    builder = model.builder
    data = build_dataset(
        bars.tail(rows + builder.required_history),
        features=builder.features,
        target=builder.target,
        interval=builder.interval,
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


def score_at(
    model: ServedModel, bars: pd.DataFrame, as_of: pd.Timestamp, *, rows: int
) -> float | None:
    """The forecast the model makes at stored bar ``as_of`` (None when it is not in ``bars``)."""
    stamps = bars[TIMESTAMP]
    position = int(pd.DatetimeIndex(stamps).searchsorted(as_of, side="right"))
    if position == 0 or stamps.iloc[position - 1] != as_of:
        return None
    history = bars.iloc[:position]
    if len(history) < model.builder.required_history:
        return None
    return score_latest(model, history, rows=rows).variance


def refuse_sequential(model: ServedModel) -> None:
    """ConflictError when the model is sequential: one feature row cannot carry its state."""
    if model.sequential:
        raise ConflictError(
            f"model {model.name} v{model.version} is sequential (its forecast depends on "
            "every earlier bar), so it cannot score explicit feature rows; omit `features` "
            "to forecast from the stored bars",
            symbol=model.symbol,
            interval=model.interval,
        )


def score_features(
    model: ServedModel, rows: list[dict[str, float]], as_of: list[pd.Timestamp]
) -> np.ndarray:
    """Forecasts of explicit feature rows made at bars ``as_of``.

    ConflictError when the served model cannot take them (it is sequential, or the rows
    lack some of its inputs: both depend on the model in service), ModelError when it fails.
    """
    refuse_sequential(model)
    context = {"symbol": model.symbol, "interval": model.interval}
    needed = model.feature_inputs
    for row in rows:
        missing = [name for name in needed if name not in row]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise ConflictError(
                f"features lack {len(missing)} input(s) of model {model.name} "
                f"v{model.version}: {shown} (see GET /model/info)",
                **context,
            )
    frame = pd.DataFrame({name: [row[name] for row in rows] for name in needed})
    frame.insert(0, TIMESTAMP, pd.DatetimeIndex(as_of))
    try:
        return model.predict(frame)
    except ModelError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise BadRequestError(
            f"model {model.name} cannot score these features: {exc}", **context
        ) from exc
