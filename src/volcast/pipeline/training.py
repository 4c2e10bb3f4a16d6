"""The model stages: backtest -> train (evaluate + register) -> promote.

Kept apart from the data stages so that ``volcast ingest``/``validate``/``features`` do not
import the modelling stack (arch, LightGBM, scikit-learn, MLflow), which takes seconds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from volcast.config import Params, TrainParams
from volcast.errors import NotFoundError
from volcast.evaluation.backtest import BacktestResult, fit_final, labelled_rows, walk_forward
from volcast.evaluation.folds import fold_starts, refit_forecasts
from volcast.evaluation.metrics import compute_metrics
from volcast.models import BASELINES
from volcast.pipeline.stages import read_dataset
from volcast.schemas import TIMESTAMP
from volcast.storage import Layout, Storage

if TYPE_CHECKING:
    from volcast.registry import LoadedModel, PromotionDecision


ModelProgress = Callable[[str, int, int], None]


def _no_model_progress(model: str, fold: int, folds: int) -> None:
    """Default walk-forward progress callback: silent."""


def model_inputs(dataset: pd.DataFrame) -> list[str]:
    """Columns a registered model reads: the timestamp (seasonal terms), features and ``rv``."""
    return [TIMESTAMP, *dataset.attrs["feature_names"], "rv"]


def run_backtest(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _no_model_progress,
) -> BacktestResult:
    """Walk-forward backtest of every candidate in ``params.train`` on the stored dataset."""
    dataset = read_dataset(storage, symbol=symbol, interval=interval)
    return walk_forward(
        dataset,
        candidates=params.train.candidates,
        train=params.train,
        horizon=params.target.horizon,
        interval=interval,
        progress=progress,
    )


def window_metrics(result: BacktestResult, *, window_bars: int) -> pd.DataFrame:
    """Every candidate's metrics on the last ``window_bars`` out-of-sample bars (the same bars)."""
    predictions = result.predictions
    stamps = predictions[TIMESTAMP].drop_duplicates().sort_values()
    recent = predictions[predictions[TIMESTAMP].isin(set(stamps.iloc[-window_bars:]))]
    rows = {
        str(name): compute_metrics(group) for name, group in recent.groupby("model", sort=False)
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def choose_challenger(result: BacktestResult, *, window_bars: int) -> str:
    """The candidate with the best walk-forward QLIKE that is also no worse than the best
    baseline on the recent promotion window.

    Selection over the whole out-of-sample period alone could pick a model that a baseline
    beats on the recent window, which promotion would then reject even as a first model; this
    keeps the challenger eligible. A baseline always qualifies, so there is always one.
    """
    recent = window_metrics(result, window_bars=window_bars)
    baselines = [b for b in BASELINES if b in recent.index]
    floor = float(recent.loc[baselines, "qlike"].min()) if baselines else float("inf")
    ranked = result.metrics["qlike"].astype("float64").sort_values(kind="stable")
    for name in ranked.index:
        if float(recent.loc[name, "qlike"]) <= floor:
            return str(name)
    return result.selected


def champion_forecasts(
    loaded: LoadedModel, labelled: pd.DataFrame, *, first: int, train: TrainParams, horizon: int
) -> np.ndarray:
    """Out-of-sample forecasts of a registered model's specification from row ``first`` on.

    The model is cloned unfitted (same hyperparameters and feature set) and refitted on the
    walk-forward backtest's own fold schedule (rows before each block minus the purge gap),
    so a champion trained long ago and a challenger trained today are scored alike, and the
    challenger's forecasts equal its backtest forecasts. A model whose features the current
    dataset no longer has is scored frozen instead (its in-sample bars can only flatter it,
    so the comparison then errs towards keeping it).
    """
    from sklearn.base import clone

    names = [str(c) for c in loaded.feature_config.get("model_features", [])]
    estimator = loaded.estimator
    if not names or any(c not in labelled.columns for c in names) or first <= horizon:
        return np.asarray(loaded.predict(labelled)["variance"].to_numpy()[first:], dtype="float64")
    X = labelled.drop(columns=["target"])
    X.attrs = {**labelled.attrs, "feature_names": names}
    starts = fold_starts(len(labelled), train=train, horizon=horizon)
    # one clone refitted fold after fold, as walk_forward does (warm starts)
    return refit_forecasts(
        clone(estimator), X, labelled["target"], starts=starts, horizon=horizon, first=first
    )


@dataclass(frozen=True)
class TrainResult:
    """The backtest, the challenger chosen from it and its registered version."""

    symbol: str
    interval: str
    backtest: BacktestResult
    challenger: str
    model_name: str
    version: int
    run_id: str
    artifacts_dir: str


def train(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _no_model_progress,
    tracking_uri: str | None = None,
) -> TrainResult:
    """Backtest every candidate, fit the challenger on all labelled rows, log and register it.

    The run gets the parameters, every candidate's walk-forward metrics, the challenger's
    out-of-sample predictions, plots, the quality and profile reports and the dataset hash;
    the registered version gets the ``challenger`` alias.
    """
    from volcast.registry import (
        forecast_plot,
        importance_plot,
        log_training_run,
        reference_statistics,
    )

    layout = Layout(symbol, interval)
    dataset = read_dataset(storage, symbol=symbol, interval=interval)
    result = walk_forward(
        dataset,
        candidates=params.train.candidates,
        train=params.train,
        horizon=params.target.horizon,
        interval=interval,
        progress=progress,
    )
    challenger = choose_challenger(result, window_bars=params.promotion.window_bars)
    progress(f"fit {challenger}", 1, 1)
    model = fit_final(
        dataset,
        challenger,
        train=params.train,
        horizon=params.target.horizon,
        interval=interval,
    )
    labelled = labelled_rows(dataset)
    inputs = model_inputs(dataset)
    feature_names = list(dataset.attrs["feature_names"])
    storage.write_parquet(layout.backtest_predictions, result.predictions)
    with tempfile.TemporaryDirectory(prefix="volcast-train-") as tmp:
        out = Path(tmp)
        chosen = result.predictions[result.predictions["model"] == challenger]
        chosen.to_csv(out / "oos_predictions.csv", index=False)
        result.predictions.to_csv(out / "backtest_all_models.csv", index=False)
        result.metrics.to_csv(out / "backtest_metrics.csv")
        result.folds.to_csv(out / "folds.csv", index=False)
        forecast_plot(chosen, out / "forecast_vs_realized.png")
        artifacts: dict[str, Path] = {
            "backtest": out / "oos_predictions.csv",
            "backtest/all": out / "backtest_all_models.csv",
            "backtest/metrics": out / "backtest_metrics.csv",
            "backtest/folds": out / "folds.csv",
            "plots": out / "forecast_vs_realized.png",
        }
        importance = _importance(model)
        if importance is not None and len(importance):
            importance.to_csv(out / "feature_importance.csv", header=["importance"])
            importance_plot(importance, out / "feature_importance.png")
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
        feature_config = {
            "feature_names": inputs,
            "model_features": feature_names,
            "features": params.features.model_dump(mode="json"),
            "target": params.target.model_dump(mode="json"),
            "model": challenger,
            "warmup_bars": int(dataset.attrs.get("warmup_bars", 0)),
        }
        info = log_training_run(
            symbol=symbol,
            interval=interval,
            source=str(dataset.attrs.get("source") or "unknown"),
            params={
                "model": challenger,
                "train": params.train.model_dump(mode="json"),
                "features": params.features.model_dump(mode="json"),
                "target": params.target.model_dump(mode="json"),
                "promotion": params.promotion.model_dump(mode="json"),
            },
            metrics=metrics,
            model=model,
            feature_config=feature_config,
            reference_stats=reference_statistics(labelled[feature_names]),
            input_example=labelled[inputs].tail(5),
            artifacts=artifacts,
            tags={
                "model": challenger,
                "best_baseline": str(result.best_baseline),
                "synthetic": str(bool(dataset.attrs.get("synthetic", False))).lower(),
            },
            dataset_hash=str(dataset.attrs["content_hash"]),
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
            "dataset_hash": dataset.attrs["content_hash"],
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
    )


def _importance(model: object) -> pd.Series | None:
    for attr in ("feature_importances", "coefficients"):
        getter = getattr(model, attr, None)
        if callable(getter):
            value = getter()
            if isinstance(value, pd.Series):
                return value
    return None


def promote(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    tracking_uri: str | None = None,
) -> tuple[PromotionDecision, str]:
    """Compare ``@challenger`` with the live ``@champion`` on the same recent window.

    The window is the last ``promotion.window_bars`` labelled bars, and every model forecasts
    each of its bars out of sample by the same walk-forward protocol: the challenger and the
    baselines with their forecasts from the latest backtest, the champion by refitting its
    registered specification (hyperparameters and feature set) on the same fold schedule
    (see :func:`champion_forecasts`), so a champion trained long ago and a challenger trained
    today are scored alike. Returns the decision and where the
    markdown report (with its forecast plot) was stored, under ``reports/promotion/``.
    """
    from volcast.registry import forecast_plot
    from volcast.registry import promote as registry_promote

    layout = Layout(symbol, interval)
    dataset = read_dataset(storage, symbol=symbol, interval=interval)
    if not storage.exists(layout.backtest_predictions):
        raise NotFoundError(
            "no backtest predictions; run `volcast train` first", symbol=symbol, interval=interval
        )
    predictions = storage.read_parquet(layout.backtest_predictions)
    labelled = labelled_rows(dataset)
    window = params.promotion.window_bars
    stamps = predictions[TIMESTAMP].drop_duplicates().sort_values().iloc[-window:]
    in_window = predictions[predictions[TIMESTAMP].isin(set(stamps))]

    first_row = int(np.flatnonzero(labelled[TIMESTAMP].isin(set(stamps)).to_numpy())[0])
    meta = storage.read_json(layout.backtest_meta)
    if meta.get("dataset_hash") != dataset.attrs["content_hash"]:
        raise NotFoundError(
            "the dataset changed since the last `volcast train` (new bars or parameters): "
            "train again so challenger, champion and baselines are scored on the same bars",
            symbol=symbol,
            interval=interval,
        )
    challenger_version = int(meta["version"])
    chosen = in_window[in_window["model"] == str(meta["challenger"])]

    def evaluate(loaded: LoadedModel) -> dict[str, float]:
        if loaded.version == challenger_version and len(chosen) == len(stamps):
            return compute_metrics(chosen)  # its walk-forward forecasts on these very bars
        forecast = champion_forecasts(
            loaded,
            labelled,
            first=first_row,
            train=params.train,
            horizon=params.target.horizon,
        )
        return compute_metrics(
            pd.DataFrame(
                {
                    "forecast_variance": forecast,
                    "realized_variance": labelled["target"].to_numpy()[first_row:],
                    "current_variance": labelled["rv"].to_numpy()[first_row:],
                }
            )
        )

    baselines = {
        str(name): compute_metrics(group)
        for name, group in in_window.groupby("model", sort=False)
        if name in BASELINES
    }
    with tempfile.TemporaryDirectory(prefix="volcast-promote-") as tmp:
        out = Path(tmp)
        plot = forecast_plot(chosen, out / f"forecast_{layout.slug}_{interval}.png")
        first, last = stamps.iloc[0], stamps.iloc[-1]
        decision = registry_promote(
            symbol=symbol,
            interval=interval,
            evaluate=evaluate,
            baselines=baselines,
            margin=params.promotion.margin,
            report_dir=out / "promotion",
            window=f"last {len(stamps)} out-of-sample bars, {first} .. {last}",
            plot=plot,
            tracking_uri=tracking_uri,
        )
        for path in sorted((out / "promotion").iterdir()):
            storage.write_bytes(f"{layout.promotion_dir}/{path.name}", path.read_bytes())
        report = f"{layout.promotion_dir}/{Path(decision.report_path).name}"
    return decision, storage.url(report)
