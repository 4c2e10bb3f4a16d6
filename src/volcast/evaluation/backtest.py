"""Walk-forward backtest of every candidate on identical out-of-sample bars (SPEC 7-8).

The window expands: the first forecast is made after ``min_train_bars`` training rows (plus
the purge gap), each model is refitted every ``refit_every`` bars and keeps its fit for the
block that follows. The model serving a block that starts at row ``b`` is trained on rows
``s < b - h`` only (``h`` the horizon), rows whose target (bars ``s+1 .. s+h``) closed
strictly before bar ``b``: the last ``h`` rows before each test block are purged. Rows are
never shuffled, and the models receive the history from the first labelled row so that
sequential models (EWMA, GARCH) filter through it in order; no row after ``t`` is ever read
for the forecast at ``t``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from volcast.config import TrainParams
from volcast.errors import ModelError
from volcast.evaluation.folds import fold_starts, predict_block
from volcast.evaluation.metrics import (
    CURRENT,
    FORECAST,
    REALIZED,
    compute_metrics,
    diebold_mariano,
    qlike_losses,
    skill,
)
from volcast.evaluation.selection import select_model
from volcast.models import BASELINES, CombinationModel, VolatilityModel, make_model
from volcast.models.base import (
    RV_COLUMN,
    TARGET_COLUMN,
    feature_columns,
    one_blas_thread,
    same_spec,
)
from volcast.schemas import TIMESTAMP

Progress = Callable[[str, int, int], None]
"""``progress(model, fold, n_folds)`` after each fold (folds count from 1)."""

PREDICTION_COLUMNS = (TIMESTAMP, FORECAST, REALIZED, "model", CURRENT)


@dataclass(frozen=True)
class BacktestResult:
    """Out-of-sample forecasts, metrics and the selection of one walk-forward run.

    ``predictions`` is long: ``timestamp`` (the bar the forecast is made at),
    ``forecast_variance``, ``realized_variance``, ``model`` (the CSV contract of
    ``volcast backtest --output``) and ``current_variance`` (``rv`` of that bar). ``metrics``
    has one row per model (index ``model``). ``folds`` has one row per refit: the training
    rows' first and last timestamps and the block of test timestamps it served.
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    selected: str
    best_baseline: str | None
    duration_seconds: float
    folds: pd.DataFrame
    horizon: int


def labelled_rows(
    dataset: pd.DataFrame, feature_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """The rows a model can learn from: every feature, ``rv`` and ``target`` present.

    Drops the warm-up rows (NaN features) and the last ``horizon`` rows (NaN target) and
    resets the index. ``feature_names`` are the dataset's features (its
    :class:`~volcast.features.DatasetSpec`); None takes every numeric column but
    ``timestamp``, ``rv`` and ``target``.
    """
    missing = [c for c in (TIMESTAMP, RV_COLUMN, TARGET_COLUMN) if c not in dataset.columns]
    if missing:
        raise ModelError(f"the dataset lacks the column(s) {missing}; build it with build_dataset")
    names = list(feature_names) if feature_names is not None else feature_columns(dataset)
    absent = [c for c in names if c not in dataset.columns]
    if absent:
        raise ModelError(f"the dataset lacks the feature column(s) {absent}")
    if not dataset[TIMESTAMP].is_monotonic_increasing:
        raise ModelError("dataset timestamps are not in ascending order")
    needed = [*names, RV_COLUMN, TARGET_COLUMN]
    keep = dataset[needed].notna().all(axis=1).to_numpy()
    return dataset.loc[keep].reset_index(drop=True)


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=[TARGET_COLUMN]), frame[TARGET_COLUMN]


def shared_members(models: dict[str, VolatilityModel]) -> dict[str, list[str]]:
    """For each combination whose every member is also one of ``models``: those names.

    A member matches a model of the same class and parameters, which a walk-forward fits
    anyway; the combination then reuses that fit and its out-of-sample forecasts.
    """
    out: dict[str, list[str]] = {}
    for name, model in models.items():
        if not isinstance(model, CombinationModel):
            continue
        matches = [
            next(
                (other for other, candidate in models.items() if same_spec(candidate, member)),
                None,
            )
            for member in model.members
        ]
        if model.members and all(m is not None for m in matches):
            out[name] = [str(m) for m in matches]
    return out


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _timed_fit(
    model: VolatilityModel, X: pd.DataFrame, y: pd.Series
) -> tuple[VolatilityModel, float]:
    """A fresh copy of ``model`` fitted on ``X, y``, and the seconds the fit took."""
    started = time.perf_counter()
    fitted = clone(model).fit(X, y)
    return fitted, time.perf_counter() - started


def walk_forward(
    dataset: pd.DataFrame,
    *,
    candidates: Sequence[str],
    train: TrainParams,
    horizon: int,
    interval: str,
    feature_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    n_jobs: int | None = None,
) -> BacktestResult:
    """Score every candidate by expanding-window walk-forward on the same bars.

    The selected model has the lowest QLIKE; the baselines are candidates too, so it is never
    worse than the best of them. ``metrics`` adds skill against persistence and GARCH (QLIKE)
    when they ran, and a Diebold-Mariano test of each model against the best baseline.

    Every candidate is refitted fold by fold. A combination whose members are candidates too
    reuses their fits and out-of-sample forecasts (see :func:`shared_members`), which gives
    the same forecasts as fitting its own members; its ``seconds`` then counts the blend
    only. Models whose fits are fold-independent (``concurrent_refits``: LightGBM) are
    fitted ahead in ``n_jobs`` threads (default: the CPUs this process may use; 1 turns it
    off), with identical results. ``progress`` is called per model and fold, the models of
    a fold in turn. ``feature_names`` are the dataset's features (see :func:`labelled_rows`).
    """
    if not candidates:
        raise ModelError("no candidate models to backtest")
    started = time.perf_counter()
    features = list(feature_names) if feature_names is not None else feature_columns(dataset)
    frame = labelled_rows(dataset, features)
    X, y = _split(frame)
    n = len(frame)
    starts = fold_starts(n, train=train, horizon=horizon)
    ends = [*starts[1:], n]
    test = slice(starts[0], n)
    folds = pd.DataFrame(
        {
            "fold": np.arange(1, len(starts) + 1),
            "train_start": frame[TIMESTAMP].iloc[0],
            "train_end": frame[TIMESTAMP].iloc[[s - horizon - 1 for s in starts]].to_numpy(),
            "test_start": frame[TIMESTAMP].iloc[starts].to_numpy(),
            "test_end": frame[TIMESTAMP].iloc[[e - 1 for e in ends]].to_numpy(),
            "n_train": [s - horizon for s in starts],
        }
    )
    names = list(dict.fromkeys(candidates))
    models = {
        name: make_model(name, params=train, interval=interval, horizon=horizon, features=features)
        for name in names
    }
    shared = shared_members(models)
    # members before the combinations that reuse their fits, in each fold
    order = [name for name in names if name not in shared] + list(shared)
    forecasts = {name: np.full(n, np.nan) for name in names}
    seconds = dict.fromkeys(names, 0.0)
    workers = n_jobs if n_jobs is not None else _usable_cpus()
    ahead = [name for name in names if models[name].concurrent_refits] if workers > 1 else []
    # BLAS limits are process-wide: set one thread for the whole run, so that a fit limiting
    # BLAS in one thread cannot change the thread count (and the sums) of a fit in another
    with (
        one_blas_thread(),
        ThreadPoolExecutor(max_workers=max(workers, 1)) as pool,
    ):
        # fold-independent fits run ahead in threads, in fold order; the rest run in turn
        pending = {
            name: [
                pool.submit(_timed_fit, models[name], X.iloc[: s - horizon], y.iloc[: s - horizon])
                for s in starts
            ]
            for name in ahead
        }
        try:
            for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
                train_end = start - horizon
                X_train, y_train = X.iloc[:train_end], y.iloc[:train_end]
                for name in order:
                    model_started = time.perf_counter()
                    model = models[name]
                    if name in pending:
                        model, fit_seconds = pending[name][i].result()
                        models[name] = model
                        seconds[name] += fit_seconds
                        model_started = time.perf_counter()
                    if name in shared and isinstance(model, CombinationModel):
                        members = shared[name]
                        model.fit_shared(
                            X_train,
                            y_train,
                            fitted=[models[m] for m in members],
                            oos_forecasts=np.column_stack(
                                [forecasts[m][:train_end] for m in members]
                            ),
                        )
                        block = model.combine(
                            np.column_stack([forecasts[m][start:end] for m in members])
                        )
                    else:
                        if name not in pending:
                            model.fit(X_train, y_train)
                        block = predict_block(model, X, start, end)
                    forecasts[name][start:end] = block
                    seconds[name] += time.perf_counter() - model_started
                    if progress is not None:
                        progress(name, i + 1, len(starts))
        finally:
            for futures in pending.values():
                for future in futures:
                    future.cancel()
    forecasts = {name: f[starts[0] :] for name, f in forecasts.items()}
    realized = y.iloc[test].to_numpy(dtype="float64")
    current = X[RV_COLUMN].iloc[test].to_numpy(dtype="float64")
    timestamps = X[TIMESTAMP].iloc[test].to_numpy()
    predictions = pd.concat(
        [
            pd.DataFrame(
                {
                    TIMESTAMP: timestamps,
                    FORECAST: f,
                    REALIZED: realized,
                    "model": name,
                    CURRENT: current,
                }
            )
            for name, f in forecasts.items()
        ],
        ignore_index=True,
    )
    metrics = _metrics_table(predictions, seconds, horizon=horizon)
    selected, best_baseline = select_model(metrics, baselines=BASELINES)
    if best_baseline is not None:
        ref = qlike_losses(realized, forecasts[best_baseline])
        for name in forecasts:
            if name != best_baseline:
                stat, p_value = diebold_mariano(
                    qlike_losses(realized, forecasts[name]), ref, horizon=horizon
                )
                metrics.loc[name, ["dm_stat_vs_best_baseline", "dm_pvalue_vs_best_baseline"]] = (
                    stat,
                    p_value,
                )
    return BacktestResult(
        predictions=predictions,
        metrics=metrics,
        selected=selected,
        best_baseline=best_baseline,
        duration_seconds=time.perf_counter() - started,
        folds=folds,
        horizon=horizon,
    )


def _metrics_table(
    predictions: pd.DataFrame, seconds: dict[str, float], *, horizon: int
) -> pd.DataFrame:
    rows = {
        str(name): compute_metrics(group)
        for name, group in predictions.groupby("model", sort=False)
    }
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index.name = "model"
    qlikes = metrics["qlike"].astype("float64")
    for ref in ("persistence", "garch"):
        metrics[f"skill_vs_{ref}"] = (
            [skill(float(loss), float(qlikes[ref])) for loss in qlikes] if ref in qlikes else np.nan
        )
    metrics["dm_stat_vs_best_baseline"] = np.nan
    metrics["dm_pvalue_vs_best_baseline"] = np.nan
    metrics["seconds"] = pd.Series(seconds)
    metrics["horizon"] = float(horizon)
    return metrics


def fit_final(
    dataset: pd.DataFrame,
    name: str,
    *,
    train: TrainParams,
    horizon: int,
    interval: str,
    feature_names: Sequence[str] | None = None,
) -> VolatilityModel:
    """Fit model ``name`` on every labelled row of ``dataset`` (the model to register)."""
    features = list(feature_names) if feature_names is not None else feature_columns(dataset)
    frame = labelled_rows(dataset, features)
    if len(frame) < train.min_train_bars:
        raise ModelError(
            f"only {len(frame)} labelled rows; the model needs min_train_bars="
            f"{train.min_train_bars}",
            model=name,
        )
    X, y = _split(frame)
    model = make_model(name, params=train, interval=interval, horizon=horizon, features=features)
    return model.fit(X, y)
