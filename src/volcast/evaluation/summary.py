"""The backtest table of a report: every model's metrics and a Diebold-Mariano test each.

Recomputed from the stored out-of-sample predictions (one row per model and bar, the frame
``walk_forward`` returns), so a report needs no training run in memory.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from volcast.errors import ModelError
from volcast.evaluation.metrics import compute_metrics, diebold_mariano, qlike_losses
from volcast.models import BASELINES
from volcast.schemas import TIMESTAMP

FORECAST = "forecast_variance"
REALIZED = "realized_variance"
CURRENT = "current_variance"


def backtest_table(predictions: pd.DataFrame, *, horizon: int = 1) -> pd.DataFrame:
    """Metrics per model (rows sorted by QLIKE) with a DM test against the best baseline.

    Every model is compared on the bars all models forecast. ``dm_stat`` is negative when
    the model's QLIKE is below the best baseline's; ``dm_pvalue`` is two-sided. The best
    baseline itself (and any model when no baseline is present) has NaN there.
    """
    if predictions.empty:
        raise ModelError("no out-of-sample predictions: nothing to tabulate")
    wide = predictions.pivot_table(index=TIMESTAMP, columns="model", values=FORECAST)
    by_bar = predictions.groupby(TIMESTAMP)
    realized = by_bar[REALIZED].first().reindex(wide.index)
    common = wide.notna().all(axis=1) & realized.notna()
    wide, realized = wide[common], realized[common]
    extra = {}
    if CURRENT in predictions.columns:  # the bar's own variance: directional accuracy
        extra[CURRENT] = by_bar[CURRENT].first().reindex(wide.index)
    rows = {}
    for name in wide.columns:
        frame = pd.DataFrame({FORECAST: wide[name], REALIZED: realized, **extra})
        rows[str(name)] = compute_metrics(frame)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    baselines = [b for b in BASELINES if b in table.index]
    table["dm_stat"] = np.nan
    table["dm_pvalue"] = np.nan
    if baselines and len(realized) >= 3:
        qlikes = table["qlike"].astype("float64")
        best = min(baselines, key=lambda b: float(qlikes[b]))
        y = realized.to_numpy(dtype="float64")
        ref = qlike_losses(y, wide[best].to_numpy(dtype="float64"))
        for name in table.index:
            if name == best:
                continue
            loss = qlike_losses(y, wide[name].to_numpy(dtype="float64"))
            stat, p_value = diebold_mariano(loss, ref, horizon=horizon)
            table.loc[name, ["dm_stat", "dm_pvalue"]] = (
                stat if math.isfinite(stat) else np.nan,
                p_value,
            )
        table.attrs["best_baseline"] = best
    table.attrs["n_bars"] = len(realized)
    return table.sort_values("qlike")
