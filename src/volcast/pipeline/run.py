"""Stage composition: which stages run, in which order, with what, for one series.

Every front end (the CLI today; DVC stages, Airflow tasks and the stream worker later) asks
:func:`run_stages` for an ordered list of stages instead of chaining them itself. The stages
report to an :class:`Observer` as they start, progress and finish, so a front end can show
each result as soon as it exists without holding any logic of its own.

Orders used by the CLI: :data:`PREPARE` (ingest -> validate -> features, the data path that
``backtest --source`` runs first) and :data:`PIPELINE` (every stage, ``volcast pipeline``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import pandas as pd

from volcast.config import Params, get_settings
from volcast.errors import ConfigError
from volcast.pipeline.profiling import BackgroundProfiles, Profiles
from volcast.series import Series
from volcast.storage import Storage, atomic_write, storage_from_settings

if TYPE_CHECKING:
    from volcast.evaluation.backtest import BacktestResult
    from volcast.evaluation.promotion import PromotionDecision
    from volcast.evaluation.target_backtest import TargetBacktestResult
    from volcast.pipeline import stages
    from volcast.pipeline.target_promotion import TargetDecision
    from volcast.pipeline.targets import TargetTrainResult
    from volcast.pipeline.training import TrainResult
    from volcast.sources import Source

    StageResult = (
        stages.IngestResult
        | stages.ValidateResult
        | stages.FeaturesResult
        | BacktestResult
        | TrainResult
        | tuple[PromotionDecision, str]
        | TargetBacktestResult
        | TargetTrainResult
        | tuple[TargetDecision, str]
    )

Stage = Literal["ingest", "validate", "features", "backtest", "train", "promote"]

PREPARE: tuple[Stage, ...] = ("ingest", "validate", "features")
PIPELINE: tuple[Stage, ...] = (*PREPARE, "train", "promote")


@dataclass(frozen=True)
class SourceSpec:
    """The source a user named: a provider, or a file with its reading options."""

    source: str | None = None
    path: Path | None = None
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    skip_rows: int | None = None
    source_timezone: str | None = None
    file_format: str | None = None

    @property
    def given(self) -> bool:
        """Whether a source was named (else the stored data is used as it is)."""
        return self.source is not None or self.path is not None

    def name(self, params: Params) -> str:
        """The source to use: the one named, ``csv`` for a bare ``path``, else ``params``."""
        return self.source or ("csv" if self.path is not None else params.data.source)

    def open(self, params: Params) -> Source:
        """The :class:`~volcast.sources.Source` this spec names."""
        from volcast.sources.registry import make_source

        return make_source(
            self.name(params),
            settings=get_settings(),
            params=params,
            path=self.path,
            timestamp_column=self.timestamp_column,
            timestamp_format=self.timestamp_format,
            skip_rows=self.skip_rows,
            source_timezone=self.source_timezone,
            file_format=self.file_format,
        )


def parse_staleness(value: str | None) -> pd.Timedelta | None:
    """A ``--max-staleness`` duration such as ``2h`` or ``90min`` (None: no explicit limit)."""
    if value is None:
        return None
    try:
        delta = pd.Timedelta(value)
    except ValueError as exc:
        raise ConfigError(
            f"--max-staleness {value!r} is not a duration such as 2h or 90min"
        ) from exc
    if delta <= pd.Timedelta(0):
        raise ConfigError("--max-staleness must be positive")
    return delta


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run needs: the series, parameters, store and tracking URI."""

    series: Series
    params: Params
    storage: Storage
    tracking_uri: str
    source: SourceSpec = field(default_factory=SourceSpec)
    max_staleness: pd.Timedelta | None = None
    force: bool = False
    """Retrain even when nothing changed since the last registered challenger."""

    @classmethod
    def from_settings(
        cls,
        *,
        params: Params,
        symbol: str | None,
        interval: str | None,
        source: SourceSpec | None = None,
        max_staleness: pd.Timedelta | None = None,
        force: bool = False,
    ) -> RunContext:
        """A context for ``symbol``/``interval`` (default: ``params.data``) on the configured
        store (``VOLCAST_DATA_DIR``) and tracking server (``MLFLOW_TRACKING_URI``)."""
        series = Series(symbol or params.data.symbol, interval or params.data.interval)
        return cls(
            series=series,
            params=params,
            storage=storage_from_settings(),
            tracking_uri=get_settings().tracking_uri(),
            source=source or SourceSpec(),
            max_staleness=max_staleness,
            force=force,
        )


class Observer(Protocol):
    """What a front end hears from :func:`run_stages`."""

    def started(self, stage: Stage, context: RunContext) -> None:
        """``stage`` begins."""

    def progress(self, message: str) -> None:
        """A step inside a data stage (e.g. ``profiling the dataset``)."""

    def fold(self, model: str, fold: int, folds: int) -> None:
        """Walk-forward progress of one candidate model."""

    def finished(self, stage: Stage, context: RunContext, result: StageResult) -> None:
        """``stage`` ended with ``result``."""


@dataclass
class RunResult:
    """Each stage's result and seconds, in run order."""

    results: dict[Stage, StageResult] = field(default_factory=dict)
    seconds: dict[Stage, float] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Whether ``promote`` ran and kept the champion (the challenger was rejected)."""
        outcome = self.results.get("promote")
        return isinstance(outcome, tuple) and not outcome[0].promoted


def _run_one(
    stage: Stage, ctx: RunContext, observer: Observer, profiles: Profiles | None = None
) -> StageResult:
    # Imported when a stage runs: ``--help`` and option errors should not wait for pandas
    # plotting, pandera and scipy.
    from volcast.pipeline import stages

    symbol, interval = ctx.series.symbol, ctx.series.interval
    if stage == "ingest":
        return stages.ingest(
            storage=ctx.storage,
            source=ctx.source.open(ctx.params),
            symbol=symbol,
            interval=interval,
        )
    if stage == "validate":
        return stages.validate(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params,
            max_staleness=ctx.max_staleness,
        )
    if stage == "features":
        # the stored dataset is the variance one whatever target.kind is: the variance model,
        # serving and the stream worker read it; the other targets build theirs in memory
        target = ctx.params.target.model_copy(update={"kind": "variance"})
        built = stages.features(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params.model_copy(update={"target": target}),
            progress=observer.progress,
            profiles=profiles,
        )
        from volcast.pipeline import feature_store

        if feature_store.after_features(ctx.storage, ctx.series) is not None:
            observer.progress("feature store: materialised")
        return built
    if ctx.params.target.kind != "variance":
        return _run_target(stage, ctx, observer)
    # The model stages import the modelling stack (seconds): only when they run.
    from volcast.pipeline import training

    if stage == "backtest":
        return training.run_backtest(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params,
            progress=observer.fold,
        )
    if stage == "train":
        return training.train(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params,
            progress=observer.fold,
            tracking_uri=ctx.tracking_uri,
            force=ctx.force,
            reports_ready=profiles.finish if isinstance(profiles, BackgroundProfiles) else None,
        )
    return training.promote(
        storage=ctx.storage,
        symbol=symbol,
        interval=interval,
        params=ctx.params,
        tracking_uri=ctx.tracking_uri,
    )


def _run_target(stage: Stage, ctx: RunContext, observer: Observer) -> StageResult:
    """The model stages of a return or direction target (:mod:`volcast.pipeline.targets`)."""
    from volcast.pipeline import targets

    symbol, interval = ctx.series.symbol, ctx.series.interval
    if stage == "backtest":
        return targets.run_target_backtest(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params,
            progress=observer.fold,
        )
    if stage == "train":
        return targets.train_target(
            storage=ctx.storage,
            symbol=symbol,
            interval=interval,
            params=ctx.params,
            progress=observer.fold,
            tracking_uri=ctx.tracking_uri,
            force=ctx.force,
        )
    from volcast.pipeline.target_promotion import promote_target

    return promote_target(
        storage=ctx.storage,
        symbol=symbol,
        interval=interval,
        params=ctx.params,
        tracking_uri=ctx.tracking_uri,
    )


def run_stages(ctx: RunContext, order: Sequence[Stage], observer: Observer) -> RunResult:
    """Run ``order`` one stage after the other; the first error stops the run and propagates.

    A failed quality gate therefore stops everything downstream of ``validate``.
    """
    outcome = RunResult()
    # with model stages after ``features``, its profile report renders on another CPU meanwhile
    later = list(order)[list(order).index("features") + 1 :] if "features" in order else []
    background = BackgroundProfiles() if later and BackgroundProfiles.worthwhile() else None
    try:
        for stage in order:
            observer.started(stage, ctx)
            began = time.perf_counter()
            result = _run_one(stage, ctx, observer, background)
            outcome.seconds[stage] = time.perf_counter() - began
            outcome.results[stage] = result
            observer.finished(stage, ctx, result)
    except BaseException:
        if background is not None:
            background.abandon()  # the stage's error is the one to report
        raise
    if background is not None:
        background.finish()
    return outcome


def backtest_order(source: SourceSpec) -> tuple[Stage, ...]:
    """``backtest``: the data path first when a source is named, else the stored dataset."""
    return (*PREPARE, "backtest") if source.given else ("backtest",)


def check_output(output: Path) -> None:
    """Fail before a long backtest when ``--output`` cannot be written."""
    import os

    if output.is_dir() or not output.name or output.name in (".", ".."):
        raise ConfigError(f"--output {output} must be a file path, not a directory")
    parent = output.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--output {output}: {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK):
        raise ConfigError(f"--output {output}: {existing} is not writable")


PREDICTION_COLUMNS = ["timestamp", "forecast_variance", "realized_variance", "model"]
"""The ``backtest --output`` CSV columns (SPEC contract)."""


def export_predictions(
    result: BacktestResult | TargetBacktestResult, output: Path, *, all_models: bool = False
) -> int:
    """Write the ``--output`` CSV atomically and return its row count.

    One row per out-of-sample bar with the selected model's forecast (``model`` names it);
    with ``all_models`` every candidate's rows, model after model. A return or direction
    backtest writes its target's columns
    (:data:`~volcast.evaluation.target_backtest.OUTPUT_COLUMNS`).
    """
    from volcast.evaluation.backtest import BacktestResult

    if isinstance(result, BacktestResult):
        frame = result.predictions[PREDICTION_COLUMNS]
    else:
        from volcast.evaluation.target_backtest import OUTPUT_COLUMNS

        frame = result.predictions[OUTPUT_COLUMNS[result.kind]]
    if not all_models:
        frame = frame[frame["model"] == result.selected]
    text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    try:
        atomic_write(output, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write --output {output}: {exc}") from exc
    return len(frame)
