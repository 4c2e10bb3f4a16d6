"""The model stages: backtest -> train (evaluate + register); promote is in ``promotion``.

Kept apart from the data stages so that ``volcast ingest``/``validate``/``features`` do not
import the modelling stack (arch, LightGBM, scikit-learn, MLflow), which takes seconds.

``train`` is skipped when nothing it depends on changed since the ``@challenger`` it
registered: the same dataset content hash, the same parameters that shape training and
challenger selection, the same code (volcast version and git commit). That triple is hashed
into a fingerprint tagged on the registered run and version (:func:`train_fingerprint`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from volcast.config import Params
from volcast.evaluation.backtest import BacktestResult, fit_final, labelled_rows, walk_forward
from volcast.evaluation.plots import forecast_plot, importance_plot
from volcast.evaluation.selection import choose_challenger
from volcast.features import Dataset, DatasetSpec
from volcast.models.spec import ModelSpec
from volcast.monitoring.reference import reference_statistics
from volcast.pipeline.promotion import champion_forecasts, promote
from volcast.pipeline.stages import read_dataset, read_dataset_spec
from volcast.series import Layout
from volcast.storage import Storage

log = logging.getLogger(__name__)

__all__ = [
    "TrainResult",
    "champion_forecasts",
    "code_version",
    "fingerprint",
    "promote",  # the promote stage, kept reachable here for the CLI
    "run_backtest",
    "train",
    "train_fingerprint",
    "unchanged_reason",
]

FINGERPRINT_TAG: Final = "train_fingerprint"
"""Tag on a registered run and version: the hash of what its training depended on."""

ModelProgress = Callable[[str, int, int], None]


def _no_model_progress(model: str, fold: int, folds: int) -> None:
    """Default walk-forward progress callback: silent."""


def _walk_forward(dataset: Dataset, params: Params, progress: ModelProgress) -> BacktestResult:
    return walk_forward(
        dataset.frame,
        candidates=params.train.candidates,
        train=params.train,
        horizon=params.target.horizon,
        interval=dataset.spec.interval,
        feature_names=dataset.spec.feature_names,
        progress=progress,
    )


def run_backtest(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _no_model_progress,
) -> BacktestResult:
    """Walk-forward backtest of every candidate in ``params.train`` on the stored dataset."""
    return _walk_forward(read_dataset(storage, symbol=symbol, interval=interval), params, progress)


def code_version() -> str:
    """The code that trains: the volcast version and, when known, the git commit."""
    from volcast.registry import git_commit

    try:
        version = importlib.metadata.version("volcast")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"volcast {version} ({git_commit() or 'no git commit'})"


def train_fingerprint(spec: DatasetSpec, params: Params, *, code: str) -> str:
    """The fingerprint of training on the stored dataset of ``spec`` (see :func:`fingerprint`)."""
    return fingerprint(spec.content_hash, params, code=code)


def fingerprint(
    dataset_hash: str, params: Params, *, code: str, sections: tuple[str, ...] = ()
) -> str:
    """Hash of everything a training run depends on: data, parameters and code.

    The parameters are the ``features``, ``target`` and ``train`` sections and
    ``promotion.window_bars`` (the window the challenger is chosen on), plus the extra
    ``sections`` of ``params`` named (the return and direction targets add ``trading``:
    their training run logs its paper-trading backtest); ``promotion.margin`` only matters
    to ``promote`` and is left out.
    """
    document = {
        "dataset": dataset_hash,
        "features": params.features.model_dump(mode="json"),
        "target": params.target.model_dump(mode="json"),
        "train": params.train.model_dump(mode="json"),
        "promotion.window_bars": params.promotion.window_bars,
        "code": code,
        **{name: getattr(params, name).model_dump(mode="json") for name in sections},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def unchanged_reason(
    tags: dict[str, str] | None, version: int | None, fingerprint: str, dataset_hash: str
) -> str | None:
    """Why training can be skipped: ``@challenger`` (its ``version`` and tags) carries this
    very fingerprint; None when it does not (or there is no challenger)."""
    if tags is None or version is None or tags.get(FINGERPRINT_TAG) != fingerprint:
        return None
    return (
        f"dataset {dataset_hash[:12]}, parameters and code unchanged since v{version} (@challenger)"
    )


@dataclass(frozen=True)
class TrainResult:
    """The backtest, the challenger chosen from it and its registered version.

    When ``skipped`` nothing ran: ``backtest`` and ``artifacts_dir`` are None and the other
    fields describe the ``@challenger`` already registered for the same fingerprint;
    ``skip_reason`` says why.
    """

    symbol: str
    interval: str
    backtest: BacktestResult | None
    challenger: str
    model_name: str
    version: int
    run_id: str
    artifacts_dir: str | None
    skipped: bool = False
    skip_reason: str | None = None
    fingerprint: str | None = None


def _unchanged(
    storage: Storage, layout: Layout, fingerprint: str, spec: DatasetSpec, tracking_uri: str | None
) -> TrainResult | None:
    """The skipped result when ``@challenger`` was trained on this very fingerprint, else None.

    The backtest stored by that run must be there too (``promote`` scores on it).
    """
    # the local conditions first: without a stored backtest of this dataset nothing can be
    # skipped, and MLflow need not be asked (nor imported) yet
    if not (storage.exists(layout.backtest_meta) and storage.exists(layout.backtest_predictions)):
        return None
    meta = storage.read_json(layout.backtest_meta)
    if meta.get("dataset_hash") != spec.content_hash:
        return None
    from volcast.registry import CHALLENGER, alias_tags, model_name

    found = alias_tags(layout.symbol, layout.interval, CHALLENGER, tracking_uri=tracking_uri)
    version, tags = found if found is not None else (None, None)
    reason = unchanged_reason(tags, version, fingerprint, spec.content_hash)
    if reason is None or meta.get("version") != version:
        return None
    assert version is not None
    return TrainResult(
        layout.symbol,
        layout.interval,
        None,
        str(meta["challenger"]),
        model_name(layout.symbol, layout.interval),
        version,
        str(meta["run_id"]),
        None,
        skipped=True,
        skip_reason=reason,
        fingerprint=fingerprint,
    )


def train(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _no_model_progress,
    tracking_uri: str | None = None,
    force: bool = False,
    reports_ready: Callable[[], None] | None = None,
) -> TrainResult:
    """Backtest every candidate, fit the challenger on all labelled rows, log and register it.

    ``reports_ready`` is called before the run's files are gathered: the pipeline's profile
    report, rendered meanwhile in another process, is written then (so the run logs this
    dataset's report, not the previous one).

    The run gets the parameters, every candidate's walk-forward metrics, the challenger's
    out-of-sample predictions, plots, the quality and profile reports and the dataset hash;
    the registered version gets the ``challenger`` alias. Skipped (see the module docstring)
    when the fingerprint equals ``@challenger``'s, unless ``force``.
    """
    from volcast.registry import log_training_run

    layout = Layout(symbol, interval)
    spec = read_dataset_spec(storage, symbol=symbol, interval=interval)
    code = code_version()
    fingerprint = train_fingerprint(spec, params, code=code)
    if not force:
        unchanged = _unchanged(storage, layout, fingerprint, spec, tracking_uri)
        if unchanged is not None:
            return unchanged
    # MLflow's import and a fresh SQLite store's migrations run meanwhile on the other CPU
    registry_ready = threading.Thread(
        target=_open_registry, args=(tracking_uri,), name="volcast-registry", daemon=True
    )
    registry_ready.start()
    try:
        dataset = read_dataset(storage, symbol=symbol, interval=interval)
        result = _walk_forward(dataset, params, progress)
        challenger = choose_challenger(result, window_bars=params.promotion.window_bars)
        progress(f"fit {challenger}", 1, 1)
        model = fit_final(
            dataset.frame,
            challenger,
            train=params.train,
            horizon=params.target.horizon,
            interval=interval,
            feature_names=spec.feature_names,
        )
    finally:
        # also on failure: a store is never left half-migrated, nor created by two threads
        registry_ready.join()
    names = list(spec.feature_names)
    # the dataset's target section holds the floor it was built with: it travels with the model
    target = spec.target or params.target
    labelled = labelled_rows(dataset.frame, names)
    inputs = spec.model_inputs
    storage.write_parquet(layout.backtest_predictions, result.predictions)
    if reports_ready is not None:
        reports_ready()
    with tempfile.TemporaryDirectory(prefix="volcast-train-") as tmp:
        artifacts = _write_artifacts(Path(tmp), storage, layout, result, challenger, model)
        info = log_training_run(
            symbol=symbol,
            interval=interval,
            source=spec.source or "unknown",
            params={
                "model": challenger,
                "train": params.train.model_dump(mode="json"),
                "features": params.features.model_dump(mode="json"),
                "target": target.model_dump(mode="json"),
                "promotion": params.promotion.model_dump(mode="json"),
            },
            metrics=_run_metrics(result, challenger),
            model=model,
            feature_config=ModelSpec(
                feature_names=tuple(inputs),
                model_features=tuple(names),
                features=params.features,
                target=target,
                model=challenger,
                warmup_bars=spec.warmup_bars,
            ),
            reference_stats=reference_statistics(labelled[names]),
            input_example=labelled[inputs].tail(5),
            artifacts=artifacts,
            tags={
                "model": challenger,
                "best_baseline": str(result.best_baseline),
                "synthetic": str(spec.synthetic).lower(),
                FINGERPRINT_TAG: fingerprint,
                "code_version": code,
            },
            dataset_hash=spec.content_hash,
            tracking_uri=tracking_uri,
        )
    storage.write_json(
        layout.backtest_meta,
        {
            "challenger": challenger,
            "version": info.version,
            "run_id": info.run_id,
            "selected_on_full_window": result.selected,
            "best_baseline": result.best_baseline,
            "dataset_hash": spec.content_hash,
        },
    )
    return TrainResult(
        symbol,
        interval,
        result,
        challenger,
        info.model_name,
        info.version,
        info.run_id,
        info.artifact_uri,
        fingerprint=fingerprint,
    )


def _open_registry(tracking_uri: str | None) -> None:
    try:
        from volcast.registry import open_local_store

        open_local_store(tracking_uri)
    except Exception:  # the real call reports it, with its context
        log.debug("opening the tracking store ahead failed", exc_info=True)


def _write_artifacts(
    out: Path,
    storage: Storage,
    layout: Layout,
    result: BacktestResult,
    challenger: str,
    model: object,
) -> dict[str, Path]:
    """Write the run's files to ``out``; returns them by run artefact directory."""
    chosen = result.predictions[result.predictions["model"] == challenger]
    chosen.to_csv(out / "oos_predictions.csv", index=False)
    # every candidate, bar by bar (7 x 19,000 rows on the BTC file): Parquet, 20x faster than CSV
    result.predictions.to_parquet(out / "backtest_all_models.parquet", index=False)
    result.metrics.to_csv(out / "backtest_metrics.csv")
    result.folds.to_csv(out / "folds.csv", index=False)
    (out / "forecast_vs_realized.png").write_bytes(forecast_plot(chosen))
    artifacts: dict[str, Path] = {
        "backtest": out / "oos_predictions.csv",
        "backtest/all": out / "backtest_all_models.parquet",
        "backtest/metrics": out / "backtest_metrics.csv",
        "backtest/folds": out / "folds.csv",
        "plots": out / "forecast_vs_realized.png",
    }
    importance = _importance(model)
    if importance is not None and len(importance):
        importance.to_csv(out / "feature_importance.csv", header=["importance"])
        (out / "feature_importance.png").write_bytes(importance_plot(importance))
        artifacts["importance"] = out / "feature_importance.csv"
        artifacts["plots/importance"] = out / "feature_importance.png"
    for key, relpath in (
        ("reports/quality", layout.quality_report),
        ("reports/profile", layout.profile_report),
    ):
        if storage.exists(relpath):
            local = out / Path(relpath).name
            local.write_bytes(storage.read_bytes(relpath))
            artifacts[key] = local
    return artifacts


def _run_metrics(result: BacktestResult, challenger: str) -> dict[str, float]:
    """Every candidate's finite metrics as ``<model>.<metric>``, the challenger's also bare."""
    values = result.metrics.to_numpy(dtype="float64")
    names = [str(n) for n in result.metrics.index]
    columns = [str(c) for c in result.metrics.columns]
    metrics: dict[str, float] = {}
    for i, name in enumerate(names):
        for j, metric in enumerate(columns):
            if np.isfinite(values[i, j]):
                metrics[f"{name}.{metric}"] = float(values[i, j])
                if name == challenger:
                    metrics[metric] = float(values[i, j])
    metrics["duration_seconds"] = result.duration_seconds
    return metrics


def _importance(model: Any) -> pd.Series | None:
    for attr in ("feature_importances", "coefficients"):
        getter = getattr(model, attr, None)
        if callable(getter):
            value = getter()
            if isinstance(value, pd.Series):
                return value
    return None
