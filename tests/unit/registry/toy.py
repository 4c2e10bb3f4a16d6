"""A tiny variance model following the scikit-learn contract, for registry tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


class ScaledSquareModel:
    """Forecast variance as ``scale_ * mean(x**2)`` over the feature columns.

    ``scale`` multiplies the fitted ratio, so tests can make deliberately worse models.
    """

    def __init__(self, *, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, X: pd.DataFrame, y: pd.Series) -> ScaledSquareModel:
        """Fit the ratio between the target and the mean squared feature."""
        base = (X.to_numpy(dtype="float64") ** 2).mean(axis=1)
        self.ratio_ = float(np.mean(y.to_numpy()) / np.mean(base))
        return self

    def predict(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Variance forecasts, one per row."""
        base = (X.to_numpy(dtype="float64") ** 2).mean(axis=1)
        return np.asarray(self.scale * self.ratio_ * base, dtype="float64")


def toy_dataset(n: int = 400, *, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Two noisy volatility proxies as features and a positive variance target."""
    rng = np.random.default_rng(seed)
    vol = np.exp(rng.normal(-5.0, 0.4, n))
    X = pd.DataFrame(
        {
            "vol_proxy_1": vol * np.exp(rng.normal(0.0, 0.1, n)),
            "vol_proxy_2": vol * np.exp(rng.normal(0.0, 0.1, n)),
        }
    )
    y = pd.Series(vol**2 * rng.chisquare(10, n) / 10, name="target")
    return X, y


def qlike(realized: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Mean QLIKE loss y/f - ln(y/f) - 1 (the evaluation package has the product's own)."""
    ratio = np.asarray(realized, dtype="float64") / np.asarray(forecast, dtype="float64")
    return float(np.mean(ratio - np.log(ratio) - 1.0))
