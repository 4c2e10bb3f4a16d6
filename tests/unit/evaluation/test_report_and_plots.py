"""The markdown comparison report and the PNG figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.evaluation.plots import forecast_plot, importance_plot
from volcast.evaluation.report import ReportRow, comparison_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_has_a_row_per_model_and_bolds_the_best() -> None:
    rows = [
        ReportRow("challenger", "volcast-eurusd-1h v2", {"qlike": 0.41, "rmse_vol": 0.002}),
        ReportRow("champion", "volcast-eurusd-1h v1", {"qlike": 0.45}),
        ReportRow("baseline", "garch", {"qlike": 0.5, "rmse_vol": 1.23456e-6}),
        ReportRow("baseline", "har", {"qlike": 0.47, "rmse_vol": 0.0021}),
    ]
    text = comparison_report(
        title="Model comparison: EUR/USD 1h",
        promoted=True,
        reason="challenger beats champion",
        rows=rows,
        margin=0.01,
        window="last 500 bars",
        plot="forecast.png",
    )
    lines = text.splitlines()
    assert "| role | model | qlike | rmse_vol |" in lines
    assert "| challenger | volcast-eurusd-1h v2 | **0.41** | 0.002 |" in lines
    assert "| champion | volcast-eurusd-1h v1 | 0.45 | – |" in lines
    assert "| baseline | har | 0.47 | 0.0021 |" in lines
    assert "| baseline | garch | 0.5 | 1.235e-06 |" in lines
    assert "**Decision: PROMOTED** — challenger beats champion" in lines
    assert "![forecast vs realized](forecast.png)" in lines
    assert "1.00%" in text
    assert "last 500 bars" in text


def test_rejected_report_says_so() -> None:
    text = comparison_report(
        title="t",
        promoted=False,
        reason="worse than har",
        rows=[ReportRow("challenger", "m v1", {"qlike": 0.5})],
        margin=0.0,
    )
    assert "**Decision: NOT PROMOTED** — worse than har" in text
    assert "![" not in text


def _predictions(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "forecast_variance": rng.uniform(1e-6, 2e-6, n),
            "realized_variance": rng.uniform(0.0, 3e-6, n),
        }
    )


def test_forecast_plot_draws_a_png() -> None:
    assert forecast_plot(_predictions()).startswith(PNG_MAGIC)


def test_forecast_plot_needs_both_series() -> None:
    with pytest.raises(ConfigError, match="realized_variance"):
        forecast_plot(_predictions().drop(columns="realized_variance"))


def test_importance_plot_draws_a_png() -> None:
    importance = pd.Series({f"f{i}": float(i) for i in range(30)})
    assert importance_plot(importance, top=10).startswith(PNG_MAGIC)


def test_importance_plot_rejects_empty() -> None:
    with pytest.raises(ConfigError):
        importance_plot(pd.Series(dtype="float64"))
