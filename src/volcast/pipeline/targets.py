"""The model stages of the other targets (SPEC 20): backtest, train and promote.

With ``target.kind`` ``return`` or ``direction`` the ``backtest``, ``train`` and ``promote``
stages run here instead of the variance stages. The dataset is built in memory from the
curated bars by the same :func:`~volcast.features.build_dataset` (the stored dataset of the
``features`` stage stays the variance one, which the variance model, serving and the stream
worker read). Training registers ``volcast-<slug>-<interval>-<kind>`` as ``@challenger``;
promotion (:mod:`volcast.pipeline.target_promotion`) moves ``@champion`` when the
challenger's primary loss (Brier for direction, MSE for returns) on the last
``promotion.window_bars`` out-of-sample bars is no worse than the current champion's model
and than the best baseline, both scored on the same bars.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from volcast.config import Params
from volcast.errors import NotFoundError
from volcast.evaluation.target_backtest import (
    TargetBacktestResult,
    fit_final_target,
    walk_forward_target,
)
from volcast.evaluation.target_trading import trading_backtest
from volcast.features import FeatureBuilder, build_dataset, resolve_target
from volcast.quality import clean_bars
from volcast.series import Layout
from volcast.storage import Storage, content_hash

if TYPE_CHECKING:
    from volcast.evaluation.backtest import BacktestResult

ModelProgress = Callable[[str, int, int], None]


def _silent(model: str, fold: int, folds: int) -> None:
    """Default progress: nothing."""


@dataclass(frozen=True)
class TargetDataset:
    """A return/direction dataset built from the curated bars."""

    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    kind: str
    source: str | None
    content_hash: str
    params: Params


def target_dataset(
    storage: Storage, *, symbol: str, interval: str, params: Params
) -> TargetDataset:
    """The dataset of ``params.target.kind`` from the stored curated bars."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.curated_bars):
        raise NotFoundError(
            "no curated bars; run `volcast ingest` and `volcast validate` first",
            symbol=symbol,
            interval=interval,
        )
    meta = storage.read_json(layout.curated_meta)
    bars = clean_bars(storage.read_parquet(layout.curated_bars), interval=interval)
    target = resolve_target(bars, params.target)
    # the news-sentiment columns are not used by these targets (their serving path builds
    # the bar features only), so the model and its logged feature section leave them out
    features = params.features.model_copy(update={"news": False})
    builder = FeatureBuilder(features=features, target=target, interval=interval)
    frame = build_dataset(bars, features=features, target=target, interval=interval)
    return TargetDataset(
        frame=frame,
        feature_names=tuple(builder.feature_names),
        kind=params.target.kind,
        source=meta.get("source"),
        content_hash=content_hash(frame),
        params=params.model_copy(update={"target": target, "features": features}),
    )


def run_target_backtest(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _silent,
) -> TargetBacktestResult:
    """Walk-forward backtest of every candidate of the target, with its trading backtest."""
    data = target_dataset(storage, symbol=symbol, interval=interval, params=params)
    return _backtest(data, interval, progress)


def _backtest(data: TargetDataset, interval: str, progress: ModelProgress) -> TargetBacktestResult:
    result = walk_forward_target(
        data.frame,
        kind=data.kind,
        train=data.params.train,
        feature_names=data.feature_names,
        progress=progress,
    )
    return trading_backtest(result, params=data.params.trading, interval=interval)


@dataclass(frozen=True)
class TargetTrainResult:
    """The backtest, the challenger and its registered version of one target.

    When ``skipped`` nothing ran (``backtest`` is None): the other fields describe the
    ``@challenger`` registered for the same fingerprint; ``skip_reason`` says why.
    """

    symbol: str
    interval: str
    kind: str
    backtest: TargetBacktestResult | None
    challenger: str
    model_name: str
    version: int
    run_id: str
    skipped: bool = False
    skip_reason: str | None = None
    fingerprint: str | None = None


def target_backtest_paths(layout: Layout, kind: str) -> tuple[str, str]:
    """Where ``train`` stores a target's backtest: (predictions parquet, meta json)."""
    stem = f"reports/backtest/{layout.slug}_{layout.interval}_{kind}"
    return f"{stem}_predictions.parquet", f"{stem}_meta.json"


def _run_metrics(result: TargetBacktestResult) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name, row in result.metrics.iterrows():
        for key, value in row.items():
            if pd.notna(value):
                metrics[f"{name}.{key}"] = float(value)
                if name == result.selected:
                    metrics[str(key)] = float(value)
    for strategy, row in result.trading.iterrows():
        for key, value in row.items():
            if pd.notna(value) and isinstance(value, int | float | np.floating | np.integer):
                metrics[f"trading.{strategy}.{key}"] = float(value)
    metrics["duration_seconds"] = result.duration_seconds
    return metrics


def train_target(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: ModelProgress = _silent,
    tracking_uri: str | None = None,
    force: bool = False,
) -> TargetTrainResult:
    """Backtest the target's candidates, fit the selected one on every labelled row, register it.

    Skipped, like the variance ``train``, when the dataset (built from the curated bars), the
    parameters that shape training (``trading`` too: the run logs its paper trading) and the
    code are those of the current ``@challenger`` (its ``train_fingerprint`` tag) and its
    stored backtest is there; ``force`` retrains anyway.
    """
    from volcast.evaluation.plots import calibration_plot
    from volcast.evaluation.target_metrics import calibration_table
    from volcast.pipeline.training import FINGERPRINT_TAG, code_version, fingerprint
    from volcast.registry.targets import log_target_run

    layout = Layout(symbol, interval)
    data = target_dataset(storage, symbol=symbol, interval=interval, params=params)
    print_ = fingerprint(
        data.content_hash, data.params, code=code_version(), sections=TARGET_SECTIONS
    )
    if not force:
        unchanged = _unchanged(storage, layout, data, print_, tracking_uri)
        if unchanged is not None:
            return unchanged
    result = _backtest(data, interval, progress)
    challenger = result.selected
    progress(f"fit {challenger}", 1, 1)
    model = fit_final_target(
        data.frame,
        challenger,
        kind=data.kind,
        train=data.params.train,
        feature_names=data.feature_names,
    )
    predictions_path, meta_path = target_backtest_paths(layout, data.kind)
    storage.write_parquet(predictions_path, result.predictions)
    with tempfile.TemporaryDirectory(prefix="volcast-target-") as tmp:
        out = Path(tmp)
        chosen = result.selected_predictions
        chosen.to_csv(out / "oos_predictions.csv", index=False)
        result.metrics.to_csv(out / "backtest_metrics.csv")
        result.trading.to_csv(out / "trading.csv")
        result.folds.to_csv(out / "folds.csv", index=False)
        artifacts = {
            "backtest": out / "oos_predictions.csv",
            "backtest/metrics": out / "backtest_metrics.csv",
            "backtest/trading": out / "trading.csv",
            "backtest/folds": out / "folds.csv",
        }
        if data.kind == "direction":
            table = calibration_table(
                chosen["probability_up"].to_numpy(), chosen["outcome"].to_numpy()
            )
            table.to_csv(out / "calibration.csv", index=False)
            (out / "calibration.png").write_bytes(
                calibration_plot(table, title=f"Calibration: {symbol} {interval} {challenger}")
            )
            artifacts["backtest/calibration"] = out / "calibration.csv"
            artifacts["plots"] = out / "calibration.png"
        info = log_target_run(
            symbol=symbol,
            interval=interval,
            kind=data.kind,
            source=data.source or "unknown",
            params={
                "model": challenger,
                "train": data.params.train.model_dump(mode="json"),
                "features": data.params.features.model_dump(mode="json"),
                "target": data.params.target.model_dump(mode="json"),
                "trading": data.params.trading.model_dump(mode="json"),
            },
            metrics=_run_metrics(result),
            model=model,
            feature_config={
                "feature_names": list(data.feature_names),
                "features": data.params.features.model_dump(mode="json"),
                "target": data.params.target.model_dump(mode="json"),
                "model": challenger,
            },
            input_example=data.frame[list(data.feature_names)],
            artifacts=artifacts,
            tags={
                "model": challenger,
                "best_baseline": result.best_baseline,
                FINGERPRINT_TAG: print_,
            },
            dataset_hash=data.content_hash,
            tracking_uri=tracking_uri,
        )
    storage.write_json(
        meta_path,
        {
            "challenger": challenger,
            "version": info.version,
            "run_id": info.run_id,
            "dataset_hash": data.content_hash,
        },
    )
    return TargetTrainResult(
        symbol,
        interval,
        data.kind,
        result,
        challenger,
        info.model_name,
        info.version,
        info.run_id,
        fingerprint=print_,
    )


TARGET_SECTIONS = ("trading",)
"""Sections of ``params`` in the fingerprint of a return/direction training run beyond the
variance ones."""


def _unchanged(
    storage: Storage, layout: Layout, data: TargetDataset, print_: str, tracking_uri: str | None
) -> TargetTrainResult | None:
    """The skipped result when ``@challenger`` of the target was trained on this very
    fingerprint and its stored backtest (which ``promote`` scores on) is there, else None."""
    from volcast.pipeline.training import unchanged_reason
    from volcast.registry import CHALLENGER
    from volcast.registry.targets import target_alias, target_model_name

    found = target_alias(
        layout.symbol, layout.interval, data.kind, CHALLENGER, tracking_uri=tracking_uri
    )
    version, tags = found if found is not None else (None, None)
    reason = unchanged_reason(tags, version, print_, data.content_hash)
    predictions_path, meta_path = target_backtest_paths(layout, data.kind)
    if reason is None or not (storage.exists(meta_path) and storage.exists(predictions_path)):
        return None
    meta = storage.read_json(meta_path)
    if meta.get("version") != version or meta.get("dataset_hash") != data.content_hash:
        return None
    assert version is not None
    return TargetTrainResult(
        layout.symbol,
        layout.interval,
        data.kind,
        None,
        str(meta["challenger"]),
        target_model_name(layout.symbol, layout.interval, data.kind),
        version,
        str(meta["run_id"]),
        skipped=True,
        skip_reason=reason,
        fingerprint=print_,
    )


def variance_trading(
    *, storage: Storage, symbol: str, interval: str, params: Params, result: BacktestResult
) -> pd.DataFrame:
    """Vol-targeted positions from a variance backtest's selected model (and best baseline)
    against constant exposure, on the stored bars (``backtest --trading``).

    The target variance is the mean realized variance of the rows before the first scored
    bar, so nothing from the traded bars sets the position size.
    """
    from volcast.evaluation.target_trading import vol_target_table
    from volcast.pipeline.stages import read_dataset

    layout = Layout(symbol, interval)
    bars = clean_bars(storage.read_parquet(layout.curated_bars), interval=interval)
    close = bars["close"].astype("float64")
    next_returns = pd.Series(
        np.log(close.shift(-1) / close).to_numpy(), index=pd.DatetimeIndex(bars["timestamp"])
    )
    frame = read_dataset(storage, symbol=symbol, interval=interval).frame
    first = result.predictions["timestamp"].min()
    before = frame.loc[frame["timestamp"] < first, "target"].dropna()
    models = list(dict.fromkeys([result.selected, *filter(None, [result.best_baseline])]))
    return vol_target_table(
        result.predictions,
        models=[m for m in models if m],
        next_returns=next_returns,
        target_variance=float(before.mean()),
        params=params.trading,
        interval=interval,
    )
