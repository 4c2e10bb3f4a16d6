"""The pipeline stages: ingest -> validate -> features (-> train -> evaluate -> promote).

Each stage reads its inputs from the data store, calls the pure functions of the layer it
belongs to and writes its outputs atomically. The CLI, the DVC stages, Airflow tasks and the
stream worker all call these functions; none of them holds logic of its own.

Staging protocol: ``ingest`` fetches the bars after the last *curated* bar (the watermark) and
writes them to ``staging/``, replacing the previous increment (an empty one when nothing is
new), so a rejected increment is simply fetched again; ``validate`` gates curated + staging as
one dataset and, only if every check passes, replaces the curated bars. Validating the same
increment twice changes nothing (its bars are then exact duplicates, which the gate drops). A
failed gate writes its report and nothing else: curated bars, datasets and the watermark stay
byte-identical.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from volcast.config import Params, TrainParams
from volcast.errors import DataQualityError, NotFoundError
from volcast.evaluation.backtest import (
    BacktestResult,
    fit_final,
    fold_starts,
    labelled_rows,
    walk_forward,
)
from volcast.evaluation.metrics import compute_metrics
from volcast.features import build_dataset
from volcast.models import BASELINES
from volcast.quality import clean_bars, run_checks
from volcast.schemas import BAR_COLUMNS, TIMESTAMP, empty_bars
from volcast.sources import Source
from volcast.storage import Layout, Storage, content_hash

if TYPE_CHECKING:
    from volcast.registry import LoadedModel, PromotionDecision

Progress = Callable[[str], None]


def _no_progress(message: str) -> None:
    """Default progress callback: silent."""


def _utcnow() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def read_curated(storage: Storage, layout: Layout) -> pd.DataFrame:
    """The curated bars for ``layout`` (an empty frame when none are stored yet)."""
    if not storage.exists(layout.curated_bars):
        return empty_bars()
    return storage.read_parquet(layout.curated_bars)


def last_curated_timestamp(storage: Storage, layout: Layout) -> pd.Timestamp | None:
    """The watermark: the timestamp of the last curated bar, None before the first run."""
    if not storage.exists(layout.curated_meta):
        return None
    last = storage.read_json(layout.curated_meta).get("last_timestamp")
    return pd.Timestamp(last) if last else None


def _stringify_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns (unparsed values a file source kept for the gate) as strings for Parquet."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].astype("string")
    return out


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` fetched and where it put it."""

    symbol: str
    interval: str
    source: str
    since: pd.Timestamp | None
    new_rows: int
    first_timestamp: pd.Timestamp | None
    last_timestamp: pd.Timestamp | None
    raw_paths: list[str] = field(default_factory=list)
    staging_path: str | None = None


def ingest(
    *,
    storage: Storage,
    source: Source,
    symbol: str,
    interval: str,
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Fetch the bars after the last curated bar, archive raw payloads, stage the increment."""
    layout = Layout(symbol, interval)
    since = last_curated_timestamp(storage, layout)
    collected_at = (now or _utcnow()).to_pydatetime()
    raw_paths: list[str] = []

    def save_raw(payload: bytes, ext: str) -> None:
        page = len(raw_paths) + 1
        raw_paths.append(
            storage.write_bytes(layout.raw(source.name, collected_at, page=page, ext=ext), payload)
        )

    bars = source.fetch(symbol=symbol, interval=interval, since=since, on_raw=save_raw)
    synthetic = bool(bars.attrs.get("synthetic", False))
    staging_path = storage.write_parquet(layout.staging_bars, _stringify_objects(bars))
    timestamps = pd.to_datetime(bars[TIMESTAMP], utc=True, errors="coerce")
    first, last = (timestamps.min(), timestamps.max()) if len(bars) else (None, None)
    storage.write_json(
        layout.staging_meta,
        {
            "source": source.name,
            "live": bool(source.live),
            "synthetic": synthetic,
            "symbol": symbol,
            "interval": interval,
            "rows": len(bars),
            "since": since.isoformat() if since is not None else None,
            "collected_at": collected_at.isoformat(),
            "raw": raw_paths,
        },
    )
    return IngestResult(
        symbol,
        interval,
        source.name,
        since,
        len(bars),
        None if first is None or pd.isna(first) else first,
        None if last is None or pd.isna(last) else last,
        raw_paths,
        staging_path,
    )


@dataclass(frozen=True)
class ValidateResult:
    """Outcome of a passed gate: the curated bars now stored."""

    symbol: str
    interval: str
    rows: int
    added_rows: int
    last_timestamp: pd.Timestamp | None
    report_path: str
    curated_path: str
    changed: bool
    warnings: list[str]


def validate(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    max_staleness: pd.Timedelta | None = None,
    now: pd.Timestamp | None = None,
) -> ValidateResult:
    """Gate curated + staged bars as one dataset; on success merge them into curated bars.

    Raises DataQualityError naming every failed check; then only the report is written.
    """
    layout = Layout(symbol, interval)
    curated = read_curated(storage, layout)
    staged = storage.exists(layout.staging_bars)
    if not staged and curated.empty:
        raise NotFoundError(
            "nothing to validate: no staged or curated bars; run `volcast ingest` first",
            symbol=symbol,
            interval=interval,
        )
    increment = storage.read_parquet(layout.staging_bars) if staged else empty_bars()
    meta = storage.read_json(layout.staging_meta) if staged else {}
    old_meta = storage.read_json(layout.curated_meta) if storage.exists(layout.curated_meta) else {}
    source = str(meta.get("source") or old_meta.get("source") or "unknown")
    live = bool(meta.get("live", old_meta.get("live", False)))
    synthetic = bool(meta.get("synthetic", old_meta.get("synthetic", False)))
    for column in BAR_COLUMNS:
        if column in increment.columns and str(increment[column].dtype) == "string":
            increment[column] = increment[column].astype(object)
    parts = [frame for frame in (curated, increment) if not frame.empty]
    if not parts:
        raise NotFoundError(
            "nothing to validate: the source returned no bars and none are curated yet",
            symbol=symbol,
            interval=interval,
        )
    combined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    clean, report = run_checks(
        combined,
        symbol=symbol,
        interval=interval,
        source=source,
        params=params.quality,
        live=live,
        max_staleness=max_staleness,
        now=now,
    )
    report_path = storage.write_json(layout.quality_report, report.model_dump(mode="json"))
    if not report.passed:
        details = "; ".join(
            f"{c.name}: {c.message}" for c in report.checks if c.name in report.failed
        )
        raise DataQualityError(
            f"quality gate failed for {symbol} {interval}: {details}",
            failed_checks=report.failed,
            report_path=report_path,
        )
    warnings = [f"{c.name}: {c.message}" for c in report.checks if c.name in report.warnings]
    new_hash = content_hash(clean)
    changed = new_hash != old_meta.get("content_hash")
    curated_path = storage.url(layout.curated_bars)
    last = clean[TIMESTAMP].iloc[-1] if len(clean) else None
    if changed:
        curated_path = storage.write_parquet(layout.curated_bars, clean)
        storage.write_json(
            layout.curated_meta,
            {
                "symbol": symbol,
                "interval": interval,
                "source": source,
                "live": live,
                "synthetic": synthetic,
                "rows": len(clean),
                "first_timestamp": clean[TIMESTAMP].iloc[0].isoformat() if len(clean) else None,
                "last_timestamp": last.isoformat() if last is not None else None,
                "content_hash": new_hash,
                "updated_at": (now or _utcnow()).isoformat(),
            },
        )
    return ValidateResult(
        symbol,
        interval,
        len(clean),
        len(clean) - len(curated),
        last,
        report_path,
        curated_path,
        changed,
        warnings,
    )


@dataclass(frozen=True)
class FeaturesResult:
    """The feature dataset written by ``features``."""

    symbol: str
    interval: str
    rows: int
    n_features: int
    warmup_bars: int
    dataset_path: str
    content_hash: str
    changed: bool
    profile_path: str | None


def features(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: Progress = _no_progress,
) -> FeaturesResult:
    """Build features + target from the curated bars and write the dataset (and its profile)."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.curated_bars):
        raise NotFoundError(
            "no curated bars; run `volcast ingest` and `volcast validate` first",
            symbol=symbol,
            interval=interval,
        )
    curated_meta = storage.read_json(layout.curated_meta)
    bars = clean_bars(storage.read_parquet(layout.curated_bars), interval=interval)
    progress(f"building features from {len(bars)} bars")
    dataset = build_dataset(bars, features=params.features, target=params.target, interval=interval)
    feature_names = list(dataset.attrs.get("feature_names", []))
    warmup = int(dataset.attrs.get("warmup_bars", 0))
    synthetic = bool(curated_meta.get("synthetic", False))
    dataset.attrs["synthetic"] = synthetic
    digest = content_hash(dataset)
    old = storage.read_json(layout.dataset_meta) if storage.exists(layout.dataset_meta) else {}
    changed = digest != old.get("content_hash") or not storage.exists(layout.dataset)
    dataset_path = storage.url(layout.dataset)
    if changed:
        dataset_path = storage.write_parquet(layout.dataset, dataset)
        storage.write_json(
            layout.dataset_meta,
            {
                "symbol": symbol,
                "interval": interval,
                "source": curated_meta.get("source"),
                "synthetic": synthetic,
                "rows": len(dataset),
                "feature_names": feature_names,
                "warmup_bars": warmup,
                "content_hash": digest,
                "curated_hash": curated_meta.get("content_hash"),
                "features": params.features.model_dump(mode="json"),
                "target": params.target.model_dump(mode="json"),
            },
        )
    profile_path: str | None = None
    if params.profile.enabled and (changed or not storage.exists(layout.profile_report)):
        from volcast.features.profile import write_profile

        progress("profiling the dataset")
        title = f"volcast dataset {symbol} {interval}"
        profile_path = write_profile(
            dataset,
            storage=storage,
            relpath=layout.profile_report,
            title=title,
            max_rows=params.profile.max_rows,
        )
    elif storage.exists(layout.profile_report):
        profile_path = storage.url(layout.profile_report)
    return FeaturesResult(
        symbol,
        interval,
        len(dataset),
        len(feature_names),
        warmup,
        dataset_path,
        digest,
        changed,
        profile_path,
    )


def read_dataset(storage: Storage, *, symbol: str, interval: str) -> pd.DataFrame:
    """The stored feature dataset, with its metadata in ``attrs``."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.dataset):
        raise NotFoundError(
            "no feature dataset; run `volcast features` first", symbol=symbol, interval=interval
        )
    dataset = storage.read_parquet(layout.dataset)
    meta = storage.read_json(layout.dataset_meta)
    dataset.attrs.update(
        feature_names=meta["feature_names"],
        warmup_bars=meta["warmup_bars"],
        synthetic=meta.get("synthetic", False),
        content_hash=meta["content_hash"],
        source=meta.get("source"),
    )
    return dataset


# --- training, evaluation, registry -------------------------------------------------------

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


def refit_forecasts(
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
    y = labelled["target"]
    n = len(labelled)
    starts = fold_starts(n, train=train, horizon=horizon)
    blocks = []
    model = clone(estimator)  # refitted fold after fold, as walk_forward does (warm starts)
    for start, end in zip(starts, [*starts[1:], n], strict=True):
        model.fit(X.iloc[: start - horizon], y.iloc[: start - horizon])
        if end <= first:
            continue
        if getattr(model, "sequential", False):
            block = model.predict(X.iloc[:end])[start:end]
        else:
            block = model.predict(X.iloc[start:end])
        blocks.append(block[max(first - start, 0) :])
    return np.asarray(np.concatenate(blocks), dtype="float64")


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
    (see :func:`refit_forecasts`), so a champion trained long ago and a challenger trained
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
    challenger_version = int(meta["version"])
    chosen = in_window[in_window["model"] == str(meta["challenger"])]

    def evaluate(loaded: LoadedModel) -> dict[str, float]:
        if loaded.version == challenger_version and len(chosen) == len(stamps):
            return compute_metrics(chosen)  # its walk-forward forecasts on these very bars
        forecast = refit_forecasts(
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
