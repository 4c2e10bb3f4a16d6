"""The report's backtest table: metrics per model and a Diebold-Mariano test each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ModelError
from volcast.evaluation.summary import backtest_table


def _predictions(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    truth = np.exp(rng.normal(-12, 0.5, n))
    realized = truth * rng.chisquare(1, n)
    forecasts = {
        "good": truth,  # the true variance: lowest expected QLIKE
        "har": truth * np.exp(rng.normal(0, 0.6, n)),
        "persistence": np.r_[realized[0], realized[:-1]],
    }
    return pd.concat(
        pd.DataFrame(
            {
                "timestamp": stamps,
                "model": name,
                "forecast_variance": f,
                "realized_variance": realized,
                "current_variance": realized,
            }
        )
        for name, f in forecasts.items()
    )


def test_models_sorted_by_qlike_with_dm_against_the_best_baseline() -> None:
    table = backtest_table(_predictions())
    assert table.index[0] == "good"
    assert table["qlike"].is_monotonic_increasing
    assert table.attrs["best_baseline"] == "har"
    assert np.isnan(table.loc["har", "dm_stat"])  # the reference itself
    assert table.loc["good", "dm_stat"] < 0  # lower loss than the best baseline
    assert 0.0 <= table.loc["good", "dm_pvalue"] < 0.05
    assert table.loc["persistence", "dm_stat"] > 0
    assert table["n_forecasts"].eq(400).all()
    assert table["directional_accuracy"].notna().all()


def test_models_are_compared_on_the_bars_all_of_them_forecast() -> None:
    frame = _predictions()
    frame = frame[~((frame["model"] == "har") & (frame.index < 100))]  # har starts later
    table = backtest_table(frame)
    assert table["n_forecasts"].eq(300).all()
    assert table.attrs["n_bars"] == 300


def test_empty_predictions_are_refused() -> None:
    with pytest.raises(ModelError):
        backtest_table(_predictions().iloc[:0])
