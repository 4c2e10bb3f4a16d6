"""MLflow tracking, model registry (aliases ``challenger``/``champion``) and promotion.

The only package that imports mlflow. Typical use::

    info = log_training_run(symbol=..., interval=..., model=fitted, ...)   # -> @challenger
    decision = promote(symbol=..., interval=..., evaluate=score_on_window, ...)
    served = load_model(symbol, interval)                                   # @champion
"""

from volcast.registry.loading import LoadedModel, load_model, model_artifacts_dir, resolve_alias
from volcast.registry.plots import forecast_plot, importance_plot
from volcast.registry.promotion import PromotionDecision, Score, decide, promote
from volcast.registry.pyfunc import OUTPUT_COLUMNS, VarianceModel, VolcastPyfunc
from volcast.registry.stats import bin_proportions, reference_statistics
from volcast.registry.tracking import (
    CHALLENGER,
    CHAMPION,
    RunInfo,
    configure,
    experiment_name,
    git_commit,
    log_training_run,
    model_name,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "OUTPUT_COLUMNS",
    "LoadedModel",
    "PromotionDecision",
    "RunInfo",
    "Score",
    "VarianceModel",
    "VolcastPyfunc",
    "bin_proportions",
    "configure",
    "decide",
    "experiment_name",
    "forecast_plot",
    "git_commit",
    "importance_plot",
    "load_model",
    "log_training_run",
    "model_artifacts_dir",
    "model_name",
    "promote",
    "reference_statistics",
    "resolve_alias",
]
