"""Forecast metrics, the walk-forward backtest and model selection (SPEC 7-8)."""

from volcast.evaluation.backtest import BacktestResult, fit_final, labelled_rows, walk_forward
from volcast.evaluation.metrics import (
    compute_metrics,
    diebold_mariano,
    directional_accuracy,
    mae_vol,
    mape,
    qlike,
    qlike_losses,
    r2_logvar,
    rmse_vol,
    skill,
)
from volcast.evaluation.selection import choose_challenger, select_model, window_metrics

__all__ = [
    "BacktestResult",
    "choose_challenger",
    "compute_metrics",
    "diebold_mariano",
    "directional_accuracy",
    "fit_final",
    "labelled_rows",
    "mae_vol",
    "mape",
    "qlike",
    "qlike_losses",
    "r2_logvar",
    "rmse_vol",
    "select_model",
    "skill",
    "walk_forward",
    "window_metrics",
]
