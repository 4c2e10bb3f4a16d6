"""The MLflow pyfunc wrapper every volcast model is logged as."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from volcast.errors import ModelError
from volcast.schemas import bars_per_year

OUTPUT_COLUMNS = ("variance", "volatility", "annualized_volatility")


def to_signature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with tz-aware datetime columns as naive UTC (MLflow schemas reject tz-aware)."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def from_signature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Inverse of :func:`to_signature_frame`: naive datetime columns read as UTC."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_dtype(out[column].dtype) and not isinstance(
            out[column].dtype, pd.DatetimeTZDtype
        ):
            out[column] = out[column].dt.tz_localize("UTC")
    return out


class VarianceModel(Protocol):
    """Any fitted model whose ``predict`` returns one next-bar variance per feature row."""

    def predict(self, X: pd.DataFrame) -> Any:
        """Variance forecasts, one per row of ``X``."""


class VolcastPyfunc(PythonModel):
    """A fitted variance model with its feature config and drift reference statistics.

    ``feature_config`` must name ``feature_names`` (the columns, in order, that the model
    takes), ``interval`` and ``symbol``; it usually also carries the ``features`` and
    ``target`` parameter dumps. ``predict`` picks those columns from its input (extra columns
    are ignored, so a full feature row works) and answers a frame with the variance, the
    volatility (its square root) and the annualised volatility. The model is pickled with the
    wrapper (cloudpickle), so loading it needs volcast importable.
    """

    def __init__(
        self,
        model: VarianceModel,
        *,
        feature_config: dict[str, Any],
        reference_stats: dict[str, Any],
    ) -> None:
        self.model = model
        self.feature_config = feature_config
        self.reference_stats = reference_stats

    @property
    def feature_names(self) -> list[str]:
        """The model's input columns, in order."""
        return [str(name) for name in self.feature_config["feature_names"]]

    def predict(
        self,
        context: Any,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Forecast next-bar variance, volatility and annualised volatility for each row."""
        symbol = self.feature_config.get("symbol")
        frame = pd.DataFrame(model_input)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ModelError(
                f"input lacks {len(missing)} feature column(s): {', '.join(missing[:10])}",
                symbol=symbol,
            )
        X = from_signature_frame(frame[self.feature_names])
        try:
            variance = np.asarray(self.model.predict(X), dtype="float64").reshape(-1)
        except (ValueError, TypeError) as exc:
            raise ModelError(f"model failed to predict: {exc}", symbol=symbol) from exc
        if variance.shape[0] != len(X):
            raise ModelError(
                f"model returned {variance.shape[0]} forecasts for {len(X)} rows", symbol=symbol
            )
        # A variance forecast below zero is meaningless; clip so the square root exists.
        variance = np.clip(variance, 0.0, None)
        volatility = np.sqrt(variance)
        per_year = bars_per_year(str(self.feature_config["interval"]))
        # the target sums variance over `horizon` bars: annualise the per-bar variance
        horizon = int(self.feature_config.get("target", {}).get("horizon", 1))
        return pd.DataFrame(
            {
                "variance": variance,
                "volatility": volatility,
                "annualized_volatility": volatility * math.sqrt(per_year / horizon),
            },
            index=X.index,
        )
