"""MLflow I/O: tracking, the model registry (aliases ``challenger``/``champion``), loading.

The only package that imports mlflow; it computes nothing. Typical use::

    info = log_training_run(symbol=..., interval=..., model=fitted, ...)   # -> @challenger
    record_promotion(decision, symbol=..., interval=..., run_id=...)       # maybe @champion
    served = load_model(symbol, interval)                                   # @champion
"""

from volcast.registry.loading import LoadedModel, load_model, model_artifacts_dir, resolve_alias
from volcast.registry.promotion import record_promotion
from volcast.registry.pyfunc import OUTPUT_COLUMNS, VarianceModel, VolcastPyfunc
from volcast.registry.tracking import (
    CHALLENGER,
    CHAMPION,
    RunInfo,
    alias_tags,
    experiment_name,
    git_commit,
    log_training_run,
    model_name,
    open_local_store,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "OUTPUT_COLUMNS",
    "LoadedModel",
    "RunInfo",
    "VarianceModel",
    "VolcastPyfunc",
    "alias_tags",
    "experiment_name",
    "git_commit",
    "load_model",
    "log_training_run",
    "model_artifacts_dir",
    "model_name",
    "open_local_store",
    "record_promotion",
    "resolve_alias",
]
