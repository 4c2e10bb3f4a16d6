"""PNG figures of a training run and a promotion: forecast vs realized, feature importance.

Each function returns the PNG bytes; the caller decides where they go (training writes them
next to the run's other artefacts for the registry to log). Figures are drawn on
matplotlib's Agg canvas without pyplot, so no display or global state is involved and the
functions are safe in worker threads.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from volcast.errors import ConfigError
from volcast.schemas import TIMESTAMP

FORECAST_COLUMN = "forecast_variance"
REALIZED_COLUMN = "realized_variance"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def forecast_plot(
    predictions: pd.DataFrame,
    *,
    title: str = "Forecast vs realized volatility",
    max_points: int = 2000,
) -> bytes:
    """Draw forecast and realized volatility (square roots of the variances) over time.

    ``predictions`` has the backtest columns ``forecast_variance`` and ``realized_variance``
    and, if present, ``timestamp`` for the x axis (else its index). Only the last
    ``max_points`` rows are drawn so the plot stays readable.
    """
    missing = [c for c in (FORECAST_COLUMN, REALIZED_COLUMN) if c not in predictions.columns]
    if missing:
        raise ConfigError(f"predictions frame lacks column(s) {', '.join(missing)}")
    if predictions.empty:
        raise ConfigError("predictions frame is empty: nothing to plot")
    tail = predictions.tail(max_points)
    x = tail[TIMESTAMP] if TIMESTAMP in tail.columns else tail.index
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(x, np.sqrt(tail[REALIZED_COLUMN].clip(lower=0)), lw=0.6, alpha=0.6, label="realized")
    ax.plot(x, np.sqrt(tail[FORECAST_COLUMN].clip(lower=0)), lw=1.0, label="forecast")
    ax.set_title(title)
    ax.set_ylabel("volatility per bar")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return _png(fig)


def importance_plot(
    importance: pd.Series,
    *,
    title: str = "Feature importance",
    top: int = 20,
) -> bytes:
    """Draw the ``top`` features by absolute importance as a horizontal bar chart."""
    if importance.empty:
        raise ConfigError("feature importance is empty: nothing to plot")
    values = importance.astype("float64")
    ranked = values.reindex(values.abs().sort_values(ascending=False).index).head(top)[::-1]
    fig = Figure(figsize=(8, max(2.5, 0.3 * len(ranked) + 1)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([str(i) for i in ranked.index], ranked.to_numpy())
    ax.set_title(title)
    ax.set_xlabel("importance")
    return _png(fig)


def error_plot(
    predictions: pd.DataFrame,
    *,
    title: str = "Forecast errors",
    window: int = 100,
) -> bytes:
    """Two panels: the log-variance error ``ln(forecast / realized)`` over time with its
    rolling mean, and its histogram (a calibrated forecaster centres near zero)."""
    missing = [c for c in (FORECAST_COLUMN, REALIZED_COLUMN) if c not in predictions.columns]
    if missing:
        raise ConfigError(f"predictions frame lacks column(s) {', '.join(missing)}")
    f = predictions[FORECAST_COLUMN].to_numpy(dtype="float64")
    y = predictions[REALIZED_COLUMN].to_numpy(dtype="float64")
    ok = (f > 0) & (y > 0) & np.isfinite(f) & np.isfinite(y)
    if not ok.any():
        raise ConfigError("no positive forecast and realized pair: nothing to plot")
    error = pd.Series(np.log(f[ok] / y[ok]))
    x = predictions[TIMESTAMP].to_numpy()[ok] if TIMESTAMP in predictions else error.index
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    ax, hist = fig.subplots(1, 2, width_ratios=(3, 1))
    ax.plot(x, error.to_numpy(), lw=0.4, alpha=0.5, label="ln(forecast / realized)")
    ax.plot(x, error.rolling(window, min_periods=1).mean().to_numpy(), lw=1.2, label="rolling mean")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    hist.hist(error.to_numpy(), bins=50)
    hist.axvline(0.0, color="black", lw=0.6)
    hist.set_title("distribution")
    return _png(fig)


def calibration_plot(
    table: pd.DataFrame, *, title: str = "Calibration (reliability diagram)"
) -> bytes:
    """Observed up-frequency against the mean forecast probability of each bin.

    ``table`` is :func:`volcast.evaluation.target_metrics.calibration_table`'s; the diagonal
    is perfect calibration and each point's size grows with its bin's count.
    """
    missing = [c for c in ("mean_probability", "observed_frequency", "count") if c not in table]
    if missing:
        raise ConfigError(f"calibration table lacks column(s) {', '.join(missing)}")
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--", label="perfect")
    counts = table["count"].to_numpy(dtype="float64")
    sizes = 20 + 200 * counts / max(float(counts.max()), 1.0) if len(counts) else 20
    ax.scatter(table["mean_probability"], table["observed_frequency"], s=sizes, label="bins")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability of an up close")
    ax.set_ylabel("observed frequency of up closes")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _png(fig)
