"""What the commands print: one :class:`ConsoleObserver` shows each stage's result as it ends.

Results go to stdout; progress spinners and errors to stderr (spinners only on a terminal).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from volcast.evaluation.backtest import BacktestResult
    from volcast.evaluation.promotion import PromotionDecision
    from volcast.pipeline import stages
    from volcast.pipeline.run import RunContext, Stage, StageResult
    from volcast.pipeline.target_promotion import TargetDecision

# Outside a terminal (CI logs, pipes) Rich would wrap at 80 columns: tables need more.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)

_METRIC_COLUMNS = [
    ("qlike", "QLIKE", "{:.4f}"),
    ("rmse_vol", "RMSE vol", "{:.3e}"),
    ("mae_vol", "MAE vol", "{:.3e}"),
    ("r2_logvar", "R2 logvar", "{:.3f}"),
    ("mape", "MAPE", "{:.3f}"),
    ("directional_accuracy", "dir acc", "{:.3f}"),
    ("skill_vs_persistence", "skill/pers", "{:+.3f}"),
    ("skill_vs_garch", "skill/garch", "{:+.3f}"),
    ("dm_stat_vs_best_baseline", "DM stat", "{:+.2f}"),
    ("dm_pvalue_vs_best_baseline", "DM p", "{:.3f}"),
    ("seconds", "seconds", "{:.1f}"),
]


def metrics_table(metrics: pd.DataFrame, *, title: str, highlight: str | None) -> Table:
    """The walk-forward metrics, best QLIKE first, ``highlight`` in bold."""
    table = Table(title=title)
    table.add_column("model")
    present = [c for c in _METRIC_COLUMNS if c[0] in metrics.columns]
    for _, label, _ in present:
        table.add_column(label, justify="right")
    for name, row in metrics.sort_values("qlike").iterrows():
        cells = [
            "-" if pd.isna(row[key]) else fmt.format(float(row[key])) for key, _, fmt in present
        ]
        style = "bold green" if name == highlight else None
        table.add_row(str(name), *cells, style=style)
    return table


def _print_backtest(bt: BacktestResult, title: str, highlight: str) -> None:
    n = bt.predictions["timestamp"].nunique()
    table = metrics_table(bt.metrics, title=title.format(n=n), highlight=highlight)
    console.print(table, soft_wrap=False)  # full width even when stdout is not a terminal


class ConsoleObserver:
    """Prints each stage's result when it finishes; spinners while data or models work."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._folds: dict[str, TaskID] = {}

    def __enter__(self) -> ConsoleObserver:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._task, self._folds = None, None, {}

    def started(self, stage: Stage, context: RunContext) -> None:
        models = stage in ("backtest", "train")
        if stage not in ("features", "backtest", "train"):
            return
        columns = (
            (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            if models
            else (TimeElapsedColumn(),)
        )
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            *columns,
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self._progress.start()
        if not models:
            self._task = self._progress.add_task("starting", total=None)

    def progress(self, message: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=message)

    def fold(self, model: str, fold: int, folds: int) -> None:
        if self._progress is None:
            return
        if model not in self._folds:
            self._folds[model] = self._progress.add_task(f"walk-forward {model}", total=folds)
        self._progress.update(self._folds[model], completed=fold)

    def finished(self, stage: Stage, context: RunContext, result: StageResult) -> None:
        from volcast.pipeline import stages

        self._stop()
        series = context.series
        if isinstance(result, stages.IngestResult):
            _print_ingest(result)
        elif isinstance(result, stages.ValidateResult):
            _print_validate(result)
        elif isinstance(result, stages.FeaturesResult):
            _print_features(result)
        elif isinstance(result, tuple):
            _print_promote(result[0], result[1])  # a variance or a target decision
        elif _print_target(stage, series, result):
            pass
        elif stage == "backtest":
            from volcast.evaluation.backtest import BacktestResult

            assert isinstance(result, BacktestResult)
            bt = result
            _print_backtest(
                bt,
                f"walk-forward backtest {series}: {{n}} out-of-sample bars, horizon {bt.horizon}",
                bt.selected,
            )
            console.print(
                f"selected: [bold]{bt.selected}[/] (best baseline: {bt.best_baseline}), "
                f"{bt.duration_seconds:.1f} s"
            )
        else:
            from volcast.pipeline.training import TrainResult

            assert isinstance(result, TrainResult)
            if result.skipped or result.backtest is None:
                console.print(
                    f"train {series}: skipped, {result.skip_reason} (--force retrains anyway)"
                )
                return
            _print_backtest(
                result.backtest,
                f"walk-forward backtest {series}: {{n}} out-of-sample bars",
                result.challenger,
            )
            console.print(
                f"train {series}: challenger [bold]{result.challenger}[/] registered as "
                f"{result.model_name} v{result.version} (@challenger), run {result.run_id}"
            )
            console.print(f"  tracking: {context.tracking_uri}")


def _print_ingest(result: stages.IngestResult) -> None:
    label = " [yellow](synthetic sample data)[/]" if result.source == "sample" else ""
    head = f"ingest {result.symbol} {result.interval} from {result.source}{label}"
    if result.new_rows == 0:
        console.print(f"{head}: no new closed bars after {result.since} (up to date)")
    else:
        console.print(
            f"{head}: {result.new_rows} new bars {result.first_timestamp} .. "
            f"{result.last_timestamp}"
        )
        console.print(f"  staged: {result.staging_path}")
    for note in result.notes:
        console.print(f"  note:   {note}", markup=False, highlight=False)
    for raw in result.raw_paths[:3]:
        console.print(f"  raw:    {raw}")
    if len(result.raw_paths) > 3:
        console.print(f"  raw:    ... {len(result.raw_paths)} payloads in all")


def _print_validate(result: stages.ValidateResult) -> None:
    state = "updated" if result.changed else "unchanged"
    console.print(
        f"validate {result.symbol} {result.interval}: [green]passed[/], {result.rows} curated "
        f"bars (+{result.added_rows}), last {result.last_timestamp}, {state}"
    )
    for warning in result.warnings:
        console.print(f"  [yellow]warning[/] {warning}")
    console.print(f"  curated: {result.curated_path}")
    console.print(f"  report:  {result.report_path}")


def _print_features(result: stages.FeaturesResult) -> None:
    state = "updated" if result.changed else "unchanged"
    console.print(
        f"features {result.symbol} {result.interval}: {result.rows} rows x "
        f"{result.n_features} features (warm-up {result.warmup_bars} bars), {state}, "
        f"hash {result.content_hash[:12]}"
    )
    console.print(f"  dataset: {result.dataset_path}")
    if result.profile_path:
        console.print(f"  profile: {result.profile_path}")


def _print_target(stage: Stage, series: object, result: StageResult) -> bool:
    """Print a return/direction backtest or training result; False for anything else."""
    from volcast.cli.target_output import print_target_backtest
    from volcast.evaluation.target_backtest import TargetBacktestResult
    from volcast.pipeline.targets import TargetTrainResult

    if isinstance(result, TargetBacktestResult):
        print_target_backtest(result, f"walk-forward backtest {series} ({result.kind})")
        return True
    if isinstance(result, TargetTrainResult):
        if result.skipped or result.backtest is None:
            console.print(
                f"train {series} ({result.kind}): skipped, {result.skip_reason} "
                "(--force retrains anyway)"
            )
            return True
        print_target_backtest(result.backtest, f"walk-forward backtest {series} ({result.kind})")
        console.print(
            f"train {series}: challenger [bold]{result.challenger}[/] registered as "
            f"{result.model_name} v{result.version} (@challenger), run {result.run_id}"
        )
        return True
    return False


def _print_promote(decision: PromotionDecision | TargetDecision, report: str) -> None:
    verdict = "[bold green]promoted[/]" if decision.promoted else "[bold yellow]rejected[/]"
    console.print(
        f"promote {decision.model_name} v{decision.challenger_version}: {verdict}: "
        f"{decision.reason}"
    )
    champion = decision.champion_version
    console.print(f"  champion: v{champion}" if champion else "  champion: none")
    console.print(f"  report:   {report}")
