"""Walk-forward backtest of the return and direction targets (SPEC 20).

The same expanding window, refit schedule and purge gap as the variance backtest
(:func:`~volcast.evaluation.folds.fold_starts`, one bar: both targets look one bar ahead),
on a dataset built with ``target.kind`` ``return`` or ``direction``
(:func:`volcast.features.build_dataset`). Every candidate of the kind
(:data:`~volcast.models.targets.TARGET_CANDIDATES`) forecasts the same out-of-sample bars;
the selected model has the lowest primary loss (:data:`PRIMARY`: the Brier score for
direction, the RMSE, i.e. the MSE, for returns). The baselines are candidates too, so the
selection is never worse than the best of them on the scored bars.

``predictions`` (long, one row per model and bar) has the columns of the
``volcast backtest --target ... --output`` contract (:data:`OUTPUT_COLUMNS`) plus
``realized_return`` (the next bar's log return; for trading) and ``close`` (this bar's close).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from volcast.config import TrainParams
from volcast.errors import ModelError
from volcast.evaluation.backtest import labelled_rows
from volcast.evaluation.folds import fold_starts, predict_block
from volcast.evaluation.target_metrics import direction_scores, expanding_base_rate, return_scores
from volcast.features.target import CLOSE, NEXT_RETURN
from volcast.models.base import TARGET_COLUMN, feature_columns
from volcast.models.targets import TARGET_BASELINES, TARGET_CANDIDATES, make_target_model
from volcast.schemas import TIMESTAMP

Progress = Callable[[str, int, int], None]

FORECAST_COLUMN: Final = {"direction": "probability_up", "return": "forecast_return"}
REALIZED_COLUMN: Final = {"direction": "outcome", "return": "realized_return"}
OUTPUT_COLUMNS: Final = {
    kind: [TIMESTAMP, FORECAST_COLUMN[kind], REALIZED_COLUMN[kind], "model"]
    for kind in ("direction", "return")
}
"""The ``backtest --output`` CSV columns of each target (SPEC contract)."""
PRIMARY: Final = {"direction": "brier", "return": "rmse"}
"""The loss each target's models are selected and promoted on (lower is better)."""


@dataclass(frozen=True)
class TargetBacktestResult:
    """Out-of-sample forecasts, metrics and the selection of one target walk-forward."""

    kind: str
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    selected: str
    best_baseline: str
    duration_seconds: float
    folds: pd.DataFrame
    trading: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Paper-trading metrics per strategy (see :mod:`volcast.evaluation.target_trading`)."""

    @property
    def primary(self) -> str:
        """The metric the models are ranked on."""
        return PRIMARY[self.kind]

    @property
    def selected_predictions(self) -> pd.DataFrame:
        """The selected model's rows."""
        return self.predictions[self.predictions["model"] == self.selected]


def _check_kind(kind: str) -> None:
    if kind not in TARGET_CANDIDATES:
        raise ModelError(
            f"target kind {kind!r} has no return/direction walk-forward; use one of "
            f"{sorted(TARGET_CANDIDATES)} (variance runs volcast.evaluation.walk_forward)"
        )


def target_rows(dataset: pd.DataFrame, feature_names: Sequence[str] | None) -> pd.DataFrame:
    """The labelled rows of a return/direction dataset (features, ``rv``, target present)."""
    missing = [c for c in (CLOSE, NEXT_RETURN) if c not in dataset.columns]
    if missing:
        raise ModelError(
            f"the dataset lacks {missing}: build it with target.kind return or direction"
        )
    return labelled_rows(dataset, feature_names)


def score(
    kind: str, forecast: np.ndarray, frame: pd.DataFrame, floor: np.ndarray
) -> dict[str, float]:
    """The metrics of one model's forecasts on the rows of ``frame`` (realized values).

    ``floor`` is the expanding base rate known before each row (direction) for the Brier
    floor; ignored for returns.
    """
    if kind == "direction":
        outcome = frame[TARGET_COLUMN].to_numpy(dtype="float64")
        scores = dict(direction_scores(forecast, outcome))
        base = float(np.mean((floor - outcome) ** 2))
        scores["brier_base_rate"] = base
        scores["brier_skill"] = 1.0 - scores["brier"] / base if base > 0 else float("nan")
        return scores
    realized = frame[NEXT_RETURN].to_numpy(dtype="float64")
    close = frame[CLOSE].to_numpy(dtype="float64")
    return dict(return_scores(forecast, realized, close=close))


def walk_forward_target(
    dataset: pd.DataFrame,
    *,
    kind: str,
    train: TrainParams,
    feature_names: Sequence[str] | None = None,
    candidates: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> TargetBacktestResult:
    """Score every candidate of ``kind`` by expanding-window walk-forward on the same bars."""
    _check_kind(kind)
    started = time.perf_counter()
    features = list(feature_names) if feature_names is not None else feature_columns(dataset)
    frame = target_rows(dataset, features)
    X, y = frame.drop(columns=[TARGET_COLUMN]), frame[TARGET_COLUMN]
    n, horizon = len(frame), 1
    starts = fold_starts(n, train=train, horizon=horizon)
    ends = [*starts[1:], n]
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
    names = list(dict.fromkeys(candidates or TARGET_CANDIDATES[kind]))
    seconds = dict.fromkeys(names, 0.0)
    forecasts = {name: np.full(n, np.nan) for name in names}
    for name in names:
        for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
            began = time.perf_counter()
            model = make_target_model(name, kind=kind, params=train, features=features)
            model.fit(X.iloc[: start - horizon], y.iloc[: start - horizon])
            forecasts[name][start:end] = predict_block(model, X, start, end)
            seconds[name] += time.perf_counter() - began
            if progress is not None:
                progress(name, i + 1, len(starts))
    test = frame.iloc[starts[0] :]
    floor = (
        expanding_base_rate(y.to_numpy(dtype="float64"))[starts[0] :]
        if kind == "direction"
        else np.zeros(n - starts[0])
    )
    rows = []
    for name in names:
        f = forecasts[name][starts[0] :]
        rows.append(
            pd.DataFrame(
                {
                    TIMESTAMP: test[TIMESTAMP].to_numpy(),
                    FORECAST_COLUMN[kind]: f,
                    REALIZED_COLUMN[kind]: (
                        test[TARGET_COLUMN].astype("int64").to_numpy()
                        if kind == "direction"
                        else test[NEXT_RETURN].to_numpy()
                    ),
                    "model": name,
                    **(
                        {"realized_return": test[NEXT_RETURN].to_numpy()}
                        if kind == "direction"
                        else {}
                    ),
                    CLOSE: test[CLOSE].to_numpy(),
                }
            )
        )
    predictions = pd.concat(rows, ignore_index=True)
    table = {name: score(kind, forecasts[name][starts[0] :], test, floor) for name in names}
    metrics = pd.DataFrame.from_dict(table, orient="index")
    metrics.index.name = "model"
    metrics["seconds"] = pd.Series(seconds)
    selected, best_baseline = select_target_model(metrics, kind=kind)
    return TargetBacktestResult(
        kind=kind,
        predictions=predictions,
        metrics=metrics,
        selected=selected,
        best_baseline=best_baseline,
        duration_seconds=time.perf_counter() - started,
        folds=folds,
    )


def select_target_model(metrics: pd.DataFrame, *, kind: str) -> tuple[str, str]:
    """``(selected, best baseline)``: the lowest primary loss overall and among baselines.

    A baseline wins ties, so a learned model is chosen only when it is strictly better.
    """
    primary = PRIMARY[kind]
    losses = metrics[primary].astype("float64")
    baselines = [b for b in TARGET_BASELINES[kind] if b in losses.index]
    if not baselines:
        raise ModelError(f"no {kind} baseline was scored; candidates must include one")
    best_baseline = str(losses[baselines].idxmin())
    selected = best_baseline
    for name, loss in losses.items():
        if np.isfinite(loss) and loss < losses[selected]:
            selected = str(name)
    return selected, best_baseline


def window_losses(result: TargetBacktestResult, *, window_bars: int) -> pd.Series:
    """Each model's primary loss over the last ``window_bars`` scored bars (for promotion)."""
    stamps = np.sort(result.predictions[TIMESTAMP].unique())[-window_bars:]
    recent = result.predictions[result.predictions[TIMESTAMP].isin(stamps)]
    out: dict[str, float] = {}
    for name, group in recent.groupby("model", sort=False):
        f = group[FORECAST_COLUMN[result.kind]].to_numpy(dtype="float64")
        r = group[REALIZED_COLUMN[result.kind]].to_numpy(dtype="float64")
        out[str(name)] = float(np.mean((f - r) ** 2))
    # Brier (direction) and MSE (return) are both mean squared errors
    return pd.Series(out, name="brier" if result.kind == "direction" else "mse")


def fit_final_target(
    dataset: pd.DataFrame,
    name: str,
    *,
    kind: str,
    train: TrainParams,
    feature_names: Sequence[str] | None = None,
) -> object:
    """Fit model ``name`` of ``kind`` on every labelled row (the model to register)."""
    _check_kind(kind)
    features = list(feature_names) if feature_names is not None else feature_columns(dataset)
    frame = target_rows(dataset, features)
    if len(frame) < train.min_train_bars:
        raise ModelError(
            f"only {len(frame)} labelled rows; the model needs min_train_bars="
            f"{train.min_train_bars}",
            model=name,
        )
    model = make_target_model(name, kind=kind, params=train, features=features)
    return model.fit(frame.drop(columns=[TARGET_COLUMN]), frame[TARGET_COLUMN])
