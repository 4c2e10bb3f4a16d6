"""Forecasts by the served model: at an earlier stored bar, and of explicit feature rows.

The forecast of the latest bar is :func:`volcast.evaluation.latest.score_latest` (the way
training made its forecasts), re-exported here for the service.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from volcast.errors import BadRequestError, ConflictError, ModelError
from volcast.evaluation.latest import BarForecast, score_latest
from volcast.registry.served import ServedModel
from volcast.schemas import TIMESTAMP


def score_at(
    model: ServedModel,
    bars: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    rows: int,
    headlines: pd.DataFrame | None = None,
) -> float | None:
    """The forecast the model makes at stored bar ``as_of`` (None when it is not in ``bars``)."""
    stamps = bars[TIMESTAMP]
    position = int(pd.DatetimeIndex(stamps).searchsorted(as_of, side="right"))
    if position == 0 or stamps.iloc[position - 1] != as_of:
        return None
    history = bars.iloc[:position]
    if len(history) < model.builder.required_history:
        return None
    return score_latest(model, history, rows=rows, headlines=headlines).variance


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


__all__ = ["BarForecast", "refuse_sequential", "score_at", "score_features", "score_latest"]
