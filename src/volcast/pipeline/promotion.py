"""The promote stage: score ``@challenger``, the live ``@champion`` and the baselines on the
same recent window, decide (:mod:`volcast.evaluation.promotion`), record (:mod:`volcast.
registry`) and write the markdown comparison report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from volcast.config import Params, TrainParams
from volcast.errors import ConflictError, NotFoundError
from volcast.evaluation.backtest import labelled_rows
from volcast.evaluation.folds import fold_starts, refit_forecasts
from volcast.evaluation.metrics import compute_metrics
from volcast.evaluation.plots import forecast_plot
from volcast.evaluation.promotion import PromotionDecision, Score, decision_report, judge
from volcast.models import BASELINES, with_features
from volcast.models.spec import ModelSpec
from volcast.pipeline.stages import read_dataset
from volcast.schemas import TIMESTAMP
from volcast.series import Layout, Series
from volcast.storage import Storage

if TYPE_CHECKING:
    from volcast.registry import LoadedModel


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
    names = list(ModelSpec.from_dict(loaded.feature_config).model_features)
    if not names or any(c not in labelled.columns for c in names) or first <= horizon:
        return np.asarray(loaded.predict(labelled)["variance"].to_numpy()[first:], dtype="float64")
    X = labelled.drop(columns=["target"])
    starts = fold_starts(len(labelled), train=train, horizon=horizon)
    # one clone refitted fold after fold, as walk_forward does (warm starts)
    return refit_forecasts(
        with_features(loaded.estimator, names),
        X,
        labelled["target"],
        starts=starts,
        horizon=horizon,
        first=first,
    )


def compare_and_promote(
    *,
    symbol: str,
    interval: str,
    evaluate: Callable[[LoadedModel], Score],
    baselines: Mapping[str, Score],
    margin: float,
    report_dir: Path,
    window: str | None = None,
    plot: Path | None = None,
    tracking_uri: str | None = None,
    champion_degraded: bool = False,
) -> PromotionDecision:
    """Compare ``@challenger`` with the live ``@champion`` and move the alias if it wins.

    ``evaluate`` scores a loaded model on the recent out-of-sample window and is called for
    both, so they are measured on the same bars; ``baselines`` are the classical models'
    scores on that same window (the best one sets the floor). ``window`` describes it in the
    report; ``plot`` (a PNG in ``report_dir``) is embedded. The report goes to
    ``report_dir/comparison_<slug>_<interval>.md`` and is also logged on the challenger's run.
    """
    from volcast.registry import CHALLENGER, CHAMPION, load_model, record_promotion, resolve_alias

    series = Series(symbol, interval)
    challenger_version = resolve_alias(symbol, interval, CHALLENGER, tracking_uri=tracking_uri)
    if challenger_version is None:
        raise NotFoundError(
            f"no {CHALLENGER} registered for {series.model_name}: train first",
            symbol=symbol,
            interval=interval,
            model=series.model_name,
        )
    champion_version = resolve_alias(symbol, interval, CHAMPION, tracking_uri=tracking_uri)
    challenger = load_model(symbol, interval, version=challenger_version, tracking_uri=tracking_uri)
    challenger_score = evaluate(challenger)
    champion_score: Score | None = None
    if champion_version is not None and champion_version != challenger_version:
        champion = load_model(symbol, interval, version=champion_version, tracking_uri=tracking_uri)
        champion_score = evaluate(champion)
    decision = judge(
        model_name=series.model_name,
        challenger_version=challenger_version,
        challenger=challenger_score,
        champion_version=champion_version,
        champion=champion_score,
        baselines=baselines,
        margin=margin,
        champion_degraded=champion_degraded,
    )
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"comparison_{series.slug}_{interval}.md"
    report.write_text(
        decision_report(
            decision,
            title=f"Model comparison: {symbol} {interval}",
            window=window,
            plot=plot.name if plot is not None else None,
        ),
        encoding="utf-8",
    )
    record_promotion(
        decision,
        symbol=symbol,
        interval=interval,
        run_id=challenger.run_id,
        report=report,
        tracking_uri=tracking_uri,
    )
    return replace(decision, report_path=report)


def promote(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    tracking_uri: str | None = None,
    since: pd.Timestamp | None = None,
    champion_degraded: bool = False,
) -> tuple[PromotionDecision, str]:
    """Compare ``@challenger`` with the live ``@champion`` on the same recent window.

    The window is the last ``promotion.window_bars`` labelled bars; after a change the live
    monitor detected at ``since``, it is the bars from ``since`` on once there are at least
    ``promotion.shift_min_bars`` of them (judging on a window still mostly of the old
    regime would favour the model fitted to it). ``champion_degraded`` (the monitor found the
    champion decaying in service) turns the burden of proof (see
    :func:`~volcast.evaluation.promotion.decide`). Every model forecasts
    each of its bars out of sample by the same walk-forward protocol: the challenger and the
    baselines with their forecasts from the latest backtest, the champion by refitting its
    registered specification (hyperparameters and feature set) on the same fold schedule
    (see :func:`champion_forecasts`), so a champion trained long ago and a challenger trained
    today are scored alike. Raises :class:`~volcast.errors.ConflictError` when the dataset
    changed since ``train``. Returns the decision and where the markdown report (with its
    forecast plot) was stored, under ``reports/promotion/``.
    """
    layout = Layout(symbol, interval)
    dataset = read_dataset(storage, symbol=symbol, interval=interval)
    if not storage.exists(layout.backtest_predictions):
        raise NotFoundError(
            "no backtest predictions; run `volcast train` first", symbol=symbol, interval=interval
        )
    meta = storage.read_json(layout.backtest_meta)
    if meta.get("dataset_hash") != dataset.spec.content_hash:
        raise ConflictError(
            "the dataset changed since the last `volcast train` (new bars or parameters): "
            "train again so challenger, champion and baselines are scored on the same bars",
            symbol=symbol,
            interval=interval,
        )
    predictions = storage.read_parquet(layout.backtest_predictions)
    labelled = labelled_rows(dataset.frame, dataset.spec.feature_names)
    stamps, since_change = _window(predictions, params, since)
    in_window = predictions[predictions[TIMESTAMP].isin(set(stamps))]
    first_row = int(np.flatnonzero(labelled[TIMESTAMP].isin(set(stamps)).to_numpy())[0])
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
        out = Path(tmp) / "promotion"
        out.mkdir()
        plot = out / f"forecast_{layout.slug}_{interval}.png"
        plot.write_bytes(forecast_plot(chosen))
        first, last = stamps.iloc[0], stamps.iloc[-1]
        described = f"last {len(stamps)} out-of-sample bars, {first} .. {last}"
        if since_change:
            described += f" (since the change detected at {since})"
        decision = compare_and_promote(
            symbol=symbol,
            interval=interval,
            evaluate=evaluate,
            baselines=baselines,
            margin=params.promotion.margin,
            report_dir=out,
            window=described,
            plot=plot,
            tracking_uri=tracking_uri,
            champion_degraded=champion_degraded,
        )
        for path in sorted(out.iterdir()):
            storage.write_bytes(f"{layout.promotion_dir}/{path.name}", path.read_bytes())
        report = f"{layout.promotion_dir}/{Path(str(decision.report_path)).name}"
    return decision, storage.url(report)


def _window(
    predictions: pd.DataFrame, params: Params, since: pd.Timestamp | None
) -> tuple[pd.Series, bool]:
    """The out-of-sample bars to judge on, and whether they are the bars since a change."""
    stamps = predictions[TIMESTAMP].drop_duplicates().sort_values().reset_index(drop=True)
    window = params.promotion.window_bars
    if since is not None:
        after = stamps[stamps >= pd.Timestamp(since)]
        if len(after) >= params.promotion.shift_min_bars:
            return after.iloc[-window:], True
    return stamps.iloc[-window:], False
