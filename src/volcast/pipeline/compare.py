"""A read-only challenger-vs-champion comparison: the dev -> test CI check (docs/deployment.md).

:func:`compare_challenger` loads a challenger (an alias or a version) and the live
``@champion`` from the registry, forecasts the same last ``window`` labelled bars of the
stored feature dataset with both, each refitted on the walk-forward backtest's fold schedule
(:func:`~volcast.pipeline.promotion.champion_forecasts`, the code ``volcast promote`` scores a
champion with), applies the promotion rule (:func:`~volcast.evaluation.promotion.judge`) and
writes the markdown comment (the comparison table, the verdict) and its forecast-vs-realized
plot. Unlike ``promote`` it moves no alias and records nothing: CI may run it against the live
registry. The check passes when the challenger would be promoted, or already is the champion.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from volcast.config import Params
from volcast.errors import ConfigError, NotFoundError
from volcast.evaluation.backtest import labelled_rows
from volcast.evaluation.metrics import compute_metrics
from volcast.evaluation.promotion import PromotionDecision, decision_report, judge
from volcast.models import BASELINES
from volcast.pipeline.promotion import champion_forecasts
from volcast.pipeline.stages import read_dataset
from volcast.schemas import TIMESTAMP
from volcast.series import Layout, Series
from volcast.storage import Storage


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_challenger` and the files it wrote."""

    decision: PromotionDecision
    passed: bool
    report: Path
    plot: Path

    @property
    def verdict(self) -> str:
        """PASSED or FAILED, as the CI check reports it."""
        return "PASSED" if self.passed else "FAILED"


def compare_challenger(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    output_dir: Path,
    challenger: str | int = "challenger",
    window: int | None = None,
    tracking_uri: str | None = None,
) -> Comparison:
    """Score ``challenger`` and ``@champion`` on the same last ``window`` labelled bars.

    ``challenger`` is an alias or a version number; ``window`` defaults to
    ``promotion.window_bars``. Writes ``output_dir/comparison_<slug>_<interval>.md`` and
    ``output_dir/forecast_<slug>_<interval>.png``. The classical baselines of the stored
    backtest set the floor when that backtest was run on this very dataset. Raises
    :class:`~volcast.errors.NotFoundError` when the challenger, the model or the dataset is
    missing, :class:`~volcast.errors.ConfigError` when the dataset is shorter than the window.
    """
    from volcast.registry import CHAMPION, load_model, resolve_alias

    series = Series(symbol, interval)
    dataset = read_dataset(storage, symbol=symbol, interval=interval)
    labelled = labelled_rows(dataset.frame, dataset.spec.feature_names)
    bars = window or params.promotion.window_bars
    horizon = params.target.horizon
    if bars < 24 or len(labelled) < bars + params.train.min_train_bars:
        raise ConfigError(
            f"a comparison window of {bars} bars needs at least 24 bars and "
            f"{bars + params.train.min_train_bars} labelled bars (min_train_bars before it); "
            f"the dataset has {len(labelled)}",
            symbol=symbol,
            interval=interval,
        )
    first = len(labelled) - bars
    challenger_version = _version(challenger, series, tracking_uri)
    champion_version = resolve_alias(symbol, interval, CHAMPION, tracking_uri=tracking_uri)
    window_rows = labelled.iloc[first:].reset_index(drop=True)

    def scored(version: int) -> pd.DataFrame:
        loaded = load_model(symbol, interval, version=version, tracking_uri=tracking_uri)
        forecast = champion_forecasts(
            loaded, labelled, first=first, train=params.train, horizon=horizon
        )
        return pd.DataFrame(
            {
                TIMESTAMP: window_rows[TIMESTAMP],
                "forecast_variance": forecast,
                "realized_variance": window_rows["target"].to_numpy(),
                "current_variance": window_rows["rv"].to_numpy(),
            }
        )

    challenger_rows = scored(challenger_version)
    champion_rows = None
    if champion_version is not None and champion_version != challenger_version:
        champion_rows = scored(champion_version)
    decision = judge(
        model_name=series.model_name,
        challenger_version=challenger_version,
        challenger=compute_metrics(challenger_rows),
        champion_version=champion_version,
        champion=None if champion_rows is None else compute_metrics(champion_rows),
        baselines=_baselines(storage, series, dataset.spec.content_hash, window_rows),
        margin=params.promotion.margin,
    )
    passed = decision.promoted or champion_version == challenger_version
    output_dir.mkdir(parents=True, exist_ok=True)
    plot = output_dir / f"forecast_{series.slug}_{interval}.png"
    plot.write_bytes(_plot(challenger_rows, champion_rows, decision))
    stamps = window_rows[TIMESTAMP]
    described = f"last {bars} labelled bars, {stamps.iloc[0]} .. {stamps.iloc[-1]}"
    body = decision_report(
        decision,
        title=f"Challenger vs champion: {symbol} {interval}",
        window=described,
        plot=plot.name,
    )
    # the shared report says what `promote` did; here nothing moved: say what the rule says
    body = body.replace(
        "**Decision: PROMOTED**", "**Promotion rule: the challenger would be promoted**"
    ).replace("**Decision: NOT PROMOTED**", "**Promotion rule: the challenger would be rejected**")
    verdict = "PASSED" if passed else "FAILED"
    header = (
        f"**CI check: {verdict}** (challenger v{challenger_version} against "
        f"{'no champion' if champion_version is None else f'champion v{champion_version}'}; "
        "read-only: no alias was moved)\n\n"
    )
    report = output_dir / f"comparison_{series.slug}_{interval}.md"
    report.write_text(header + body, encoding="utf-8")
    return Comparison(decision=decision, passed=passed, report=report, plot=plot)


def _version(challenger: str | int, series: Series, tracking_uri: str | None) -> int:
    """The version ``challenger`` names: a number, or an alias resolved in the registry."""
    from volcast.registry import resolve_alias

    if isinstance(challenger, int) or str(challenger).isdigit():
        return int(challenger)
    version = resolve_alias(
        series.symbol, series.interval, str(challenger), tracking_uri=tracking_uri
    )
    if version is None:
        raise NotFoundError(
            f"no @{challenger} registered for {series.model_name}: train first",
            symbol=series.symbol,
            interval=series.interval,
            model=series.model_name,
        )
    return version


def _baselines(
    storage: Storage, series: Series, content_hash: str, window_rows: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """The classical baselines' metrics on the window, from the stored backtest when it was
    run on this dataset (else none: no floor)."""
    layout = Layout(series.symbol, series.interval)
    if not (storage.exists(layout.backtest_meta) and storage.exists(layout.backtest_predictions)):
        return {}
    if storage.read_json(layout.backtest_meta).get("dataset_hash") != content_hash:
        return {}
    predictions = storage.read_parquet(layout.backtest_predictions)
    stamps = set(window_rows[TIMESTAMP])
    in_window = predictions[predictions[TIMESTAMP].isin(stamps)]
    return {
        str(name): compute_metrics(group)
        for name, group in in_window.groupby("model", sort=False)
        if name in BASELINES and len(group) == len(stamps)
    }


def _plot(
    challenger: pd.DataFrame, champion: pd.DataFrame | None, decision: PromotionDecision
) -> bytes:
    """Realized volatility with the challenger's and the champion's forecasts over the window."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    x = challenger[TIMESTAMP]
    ax.plot(x, np.sqrt(challenger["realized_variance"].clip(lower=0)), lw=0.8, alpha=0.8,
            color="black", label="realized")  # fmt: skip
    ax.plot(x, np.sqrt(challenger["forecast_variance"].clip(lower=0)), lw=1.0,
            label=f"challenger v{decision.challenger_version}")  # fmt: skip
    if champion is not None:
        ax.plot(x, np.sqrt(champion["forecast_variance"].clip(lower=0)), lw=1.0, ls="--",
                label=f"champion v{decision.previous_champion_version}")  # fmt: skip
    ax.set_title(f"{decision.model_name}: forecast vs realized volatility")
    ax.set_ylabel("volatility per bar")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(loc="upper right")
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
