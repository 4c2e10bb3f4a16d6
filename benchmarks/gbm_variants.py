"""LightGBM on HAR's residual: which inputs and hyper-parameters earn their place, measured.

Runs the ``lightgbm_har`` walk-forward of volcast (same dataset, features, target, floor,
folds and purge gap as ``volcast backtest``; single-threaded, no other candidate) in
variants, on the four real series of ``benchmarks/forecast.py``, and prints each variant's
QLIKE against the target, its ratio to volcast's seasonal HAR on the same bars, the
Diebold-Mariano test against that HAR and the wall time of its walk-forward:

- ``old``: the hyper-parameters before they were regularised (300 trees of 15 leaves,
  50 rows per leaf);
- ``default``: ``train.lightgbm`` of params.yaml (150 trees of 7 leaves, 200 rows per leaf);
- ``+range``: default plus log averages of the Parkinson, Garman-Klass, Rogers-Satchell and
  close-to-close variances over 1 bar, a day and a week (daily bars: 1, 5, 22, 66 days),
  computed here from the bars (no look-ahead: trailing rolling means);
- ``+har``: default plus the log HAR forecast itself as an input column;
- ``search``: default with ``train.lightgbm_search`` set to :data:`SEARCH` (chosen by nested
  walk-forward validation inside each training window).

    uv run python benchmarks/gbm_variants.py                       # all series, all variants
    uv run python benchmarks/gbm_variants.py eurusd,btc old,default
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from volcast.config import FeatureParams, TargetParams, load_params
from volcast.evaluation.folds import fold_starts
from volcast.evaluation.metrics import diebold_mariano
from volcast.features.builder import build_dataset
from volcast.features.estimators import estimator_arrays, floor_variance
from volcast.features.target import resolve_target
from volcast.models.gbm import LightGbmHarModel
from volcast.models.har import HarModel
from volcast.quality.cleaning import clean_bars
from volcast.sources.csv import CsvSource

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
DAILY_FEATURES = {"lags": 22, "windows": (5, 10, 22), "weekly_window": 5, "har_windows": (1, 5, 22)}
OLD = {"n_estimators": 300, "num_leaves": 15, "min_child_samples": 50}
SEARCH: tuple[dict[str, Any], ...] = ({"n_estimators": 75}, {"n_estimators": 300})
ESTIMATORS = {"park": "var_parkinson", "gk": "var_gk", "rs": "var_rs", "cc": "var_cc"}


class HarInputModel(LightGbmHarModel):
    """``lightgbm_har`` with the log HAR forecast appended to the booster's inputs."""

    def fit(self, X: pd.DataFrame, y: pd.Series) -> HarInputModel:
        har = HarModel(**self.base.get_params()).fit(X, y) if self.base is not None else None
        assert har is not None
        super().fit(X.assign(har_log_forecast=np.log(har.predict(X))), y)
        self.har_ = har
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return super().predict(X.assign(har_log_forecast=np.log(self.har_.predict(X))))


def load(key: str) -> tuple[pd.DataFrame, str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    if key == "btc":
        return CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h"), "1h"
    if key in ("sp500", "nasdaq"):
        from export_sp500 import sp500_bars

        return sp500_bars(key), "1d"
    from export_backtesting import backtesting_bars

    return backtesting_bars("eurusd"), "1h"


def range_averages(bars: pd.DataFrame, floor: float, windows: tuple[int, ...]) -> pd.DataFrame:
    """log(mean floored variance over the last w bars) per estimator and window."""
    arrays = estimator_arrays(bars)
    columns = {}
    for short, name in ESTIMATORS.items():
        var = pd.Series(floor_variance(np.asarray(arrays[name], dtype="float64"), floor=floor))
        for w in windows:
            columns[f"log_{short}_{w}"] = np.log(var.rolling(w, min_periods=w).mean().to_numpy())
    return pd.DataFrame(columns)


def run(key: str, variants: list[str]) -> None:
    bars, interval = load(key)
    bars = clean_bars(bars, interval=interval)
    hourly = interval == "1h"
    base = load_params(ROOT / "params.yaml").train
    train = base if hourly else base.model_copy(update={"refit_every": 63})
    features = FeatureParams() if hourly else FeatureParams(**DAILY_FEATURES)
    target = resolve_target(bars, TargetParams())
    data = build_dataset(bars, features=features, target=target, interval=interval)
    names = [c for c in data.columns if c not in ("timestamp", "rv", "target")]
    extra = range_averages(bars, target.floor, (1, 24, 168) if hourly else (1, 5, 22, 66))
    data = pd.concat([data, extra], axis=1)
    # the same rows for every variant: complete in the base features and the extra ones
    rows = data.dropna(subset=[*names, *extra.columns, "target"]).reset_index(drop=True)
    y = rows["target"]
    starts = fold_starts(len(rows), train=train, horizon=1)
    ends = [*starts[1:], len(rows)]
    realized = y.to_numpy()[starts[0] :]

    def walk(make: Callable[[], Any]) -> tuple[np.ndarray, float]:
        out = np.full(len(rows), np.nan)
        began = time.perf_counter()
        for s, e in zip(starts, ends, strict=True):
            out[s:e] = make().fit(rows.iloc[: s - 1], y.iloc[: s - 1]).predict(rows.iloc[s:e])
        return out[starts[0] :], time.perf_counter() - began

    def losses(f: np.ndarray) -> np.ndarray:
        ratio = realized / f
        return np.asarray(ratio - np.log(ratio) - 1)

    har = HarModel(interval=interval, horizon=1)
    har_f, _ = walk(lambda: HarModel(interval=interval, horizon=1))
    har_loss = losses(har_f)
    print(
        f"\n{key} ({interval}): {len(realized)} bars scored, {len(starts)} folds;"
        f" volcast har QLIKE {har_loss.mean():.4f}"
    )
    print(f"  {'variant':10s} {'QLIKE':>7s} {'/ har':>6s} {'DM':>6s} {'p':>8s} {'seconds':>8s}")
    params = dict(train.lightgbm)
    for variant in variants:
        kwargs: dict[str, Any] = {"params": params, "features": tuple(names), "base": har}
        cls: type[LightGbmHarModel] = LightGbmHarModel
        if variant == "old":
            kwargs["params"] = {**params, **OLD}
        elif variant == "+range":
            kwargs["features"] = (*names, *extra.columns)
        elif variant == "+har":
            cls = HarInputModel
            kwargs["features"] = (*names, "har_log_forecast")
        elif variant == "search":
            kwargs["search"] = SEARCH
        elif variant != "default":
            raise SystemExit(f"unknown variant {variant!r}")
        forecast, seconds = walk(lambda cls=cls, kwargs=kwargs: cls(**kwargs))
        loss = losses(forecast)
        stat, p_value = diebold_mariano(loss, har_loss, horizon=1)
        print(
            f"  {variant:10s} {loss.mean():7.4f} {loss.mean() / har_loss.mean():6.3f}"
            f" {stat:+6.2f} {p_value:8.2g} {seconds:8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keys = sys.argv[1].split(",") if len(sys.argv) > 1 else ["eurusd", "btc", "sp500", "nasdaq"]
    chosen = (
        sys.argv[2].split(",")
        if len(sys.argv) > 2
        else ["old", "default", "+range", "+har", "search"]
    )
    for dataset in keys:
        run(dataset, chosen)
