"""``volcast report``: everything known about one series' model, gathered for a person.

:func:`build_report` reads the store (curated meta, quality report, stored backtest, the
stream worker's summary and events) and the registry (every version's record, the champion's
feature importance) into a :class:`ModelReport`; :mod:`.report_render` turns it into a
self-contained HTML page (PNG plots embedded as base64) and a markdown summary (the CML
comment of CI). Whatever is missing (no backtest yet, no registry, no stream worker) is
said in the report's notes instead of failing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from volcast.config import TradingParams
from volcast.errors import ConfigError, ModelError, NotFoundError, VolcastError
from volcast.evaluation.plots import error_plot, forecast_plot, importance_plot
from volcast.evaluation.summary import backtest_table
from volcast.registry.history import VersionRecord, model_history
from volcast.series import Series
from volcast.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class ModelReport:
    """What a report shows of one series; None / empty where nothing is stored."""

    series: Series
    generated_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    table: pd.DataFrame | None = None
    champion: VersionRecord | None = None
    kind: str | None = None
    history: list[VersionRecord] = field(default_factory=list)
    importance: pd.Series | None = None
    monitoring: dict[str, Any] | None = None
    targets: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Paper-trading table of each other target's stored backtest (``direction``, ``return``)."""
    images: dict[str, bytes] = field(default_factory=dict)
    """Title -> PNG bytes, in display order."""
    notes: list[str] = field(default_factory=list)


def _json(storage: Storage, path: str) -> dict[str, Any] | None:
    if not storage.exists(path):
        return None
    value = storage.read_json(path)
    return value if isinstance(value, dict) else None


def _importance(estimator: Any) -> pd.Series | None:
    for attr in ("feature_importances", "coefficients"):
        getter = getattr(estimator, attr, None)
        if callable(getter):
            value = getter()
            if isinstance(value, pd.Series) and not value.empty:
                return value
    return None


def _registry(report: ModelReport, tracking_uri: str | None) -> None:
    series = report.series
    try:
        report.history = model_history(series.symbol, series.interval, tracking_uri=tracking_uri)
    except VolcastError as exc:
        report.notes.append(f"registry not read: {exc}")
        return
    champions = [r for r in report.history if "champion" in r.aliases]
    report.champion = champions[-1] if champions else None
    if report.champion is None:
        report.notes.append("no @champion in the registry yet (run `volcast promote`)")
        return
    from volcast.registry.loading import load_model

    try:
        loaded = load_model(series.symbol, series.interval, tracking_uri=tracking_uri)
        report.importance = _importance(loaded.estimator)
        kind = loaded.feature_config.get("model")
        report.kind = kind if isinstance(kind, str) else report.champion.kind
    except VolcastError as exc:
        report.notes.append(f"champion not loaded: {exc}")
    if report.importance is None:
        report.notes.append("the champion exposes no feature importance")


def _backtest(report: ModelReport, storage: Storage, horizon: int) -> None:
    layout = report.series.layout
    if not storage.exists(layout.backtest_predictions):
        report.notes.append("no stored backtest (run `volcast train`)")
        return
    predictions = storage.read_parquet(layout.backtest_predictions)
    meta = _json(storage, layout.backtest_meta) or {}
    try:
        report.table = backtest_table(predictions, horizon=horizon)
    except ModelError as exc:
        report.notes.append(f"backtest table not computed: {exc}")
    kind = report.kind or meta.get("challenger")
    own = predictions[predictions["model"] == kind].sort_values("timestamp")
    if own.empty:
        report.notes.append(f"the backtest holds no rows of {kind!r}")
        return
    report.kind = str(kind)
    name = f"{report.series} — {kind}"
    try:
        report.images[f"Forecast vs realized volatility ({kind}, out of sample)"] = forecast_plot(
            own, title=f"Forecast vs realized volatility: {name}"
        )
        report.images[f"Forecast errors ({kind})"] = error_plot(own, title=f"Errors: {name}")
    except ConfigError as exc:
        report.notes.append(f"plots not drawn: {exc}")


def _targets(report: ModelReport, storage: Storage, trading: TradingParams) -> None:
    """The trading backtest of each return/direction target trained for the series."""
    from volcast.evaluation.target_backtest import TargetBacktestResult
    from volcast.evaluation.target_trading import trading_backtest
    from volcast.pipeline.targets import target_backtest_paths

    series = report.series
    for kind in ("direction", "return"):
        predictions_path, meta_path = target_backtest_paths(series.layout, kind)
        if not storage.exists(predictions_path):
            continue
        meta = _json(storage, meta_path) or {}
        stored = TargetBacktestResult(
            kind=kind,
            predictions=storage.read_parquet(predictions_path),
            metrics=pd.DataFrame(),
            selected=str(meta.get("challenger", "")),
            best_baseline="",
            duration_seconds=0.0,
            folds=pd.DataFrame(),
        )
        try:
            result = trading_backtest(stored, params=trading, interval=series.interval)
        except VolcastError as exc:
            report.notes.append(f"{kind} trading backtest not computed: {exc}")
            continue
        report.targets[kind] = result.trading


def build_report(
    storage: Storage,
    series: Series,
    *,
    tracking_uri: str | None,
    horizon: int = 1,
    trading: TradingParams | None = None,
) -> ModelReport:
    """Gather the report of ``series`` (NotFoundError when no bars are stored for it)."""
    layout = series.layout
    data = _json(storage, layout.curated_meta)
    if data is None:
        raise NotFoundError(
            f"no stored bars for {series}: run `volcast pipeline` first",
            symbol=series.symbol,
            interval=series.interval,
        )
    report = ModelReport(series=series, generated_at=datetime.now(UTC), data=data)
    report.quality = _json(storage, layout.quality_report)
    if report.quality is None:
        report.notes.append("no quality report stored")
    _registry(report, tracking_uri)
    _backtest(report, storage, horizon)
    _targets(report, storage, trading or TradingParams())
    if report.importance is not None:
        report.images["Feature importance (champion)"] = importance_plot(report.importance)
    report.monitoring = _json(storage, layout.monitoring_summary)
    if report.monitoring is None:
        report.notes.append(
            "no stream worker state (drift and realized loss need `volcast stream`)"
        )
    return report


def write_report(
    report: ModelReport, *, output: Path, markdown: Path | None = None
) -> tuple[Path, Path | None]:
    """Write the HTML report (and the markdown summary); returns their paths."""
    from volcast.pipeline.report_render import render_html, render_markdown

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(report), encoding="utf-8")
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(render_markdown(report), encoding="utf-8")
    return output, markdown
